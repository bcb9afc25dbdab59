// The candidate the probe is given (see docs/PROBE.md, "The API").
sg::probe_input in;
