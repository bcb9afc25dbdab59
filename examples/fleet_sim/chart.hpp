// SPDX-License-Identifier: Apache-2.0
// A hand-written SVG line chart for fleet_sim: devices down over time, one
// step curve per scenario, on logarithmic axes (time from one minute to
// weeks, devices from one to the whole fleet) so that a brief blip of a few
// thousand devices and a week-long outage of a million both stay visible.
// No plotting dependency: the file is built as text.
#ifndef SLOTGUARD_EXAMPLES_FLEET_CHART_HPP
#define SLOTGUARD_EXAMPLES_FLEET_CHART_HPP

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace fleet {

// One device's time down: [start, end) in seconds after the push.
struct down_interval {
  std::int64_t start = 0;
  std::int64_t end = 0;
};

struct chart_series {
  std::string label;
  std::string color;
  std::vector<down_interval> down;
};

struct chart_marker {
  double minute = 0;  // where the vertical line goes
  std::string label;
};

struct chart_spec {
  std::string title;
  std::string subtitle;
  std::uint64_t fleet_size = 1;
  std::vector<chart_series> series;
  std::vector<chart_marker> markers;
};

namespace chart_detail {

inline std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

inline std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

// The curve's value in each of `columns` slices of the time axis: the most
// devices down at any moment of the slice, so that a short spike is drawn
// even when it is narrower than a column. Slice c covers
// [edges[c], edges[c + 1]) seconds.
inline std::vector<std::int64_t> column_max(const std::vector<down_interval>& down,
                                            const std::vector<double>& edges) {
  std::vector<std::pair<std::int64_t, int>> steps;
  steps.reserve(down.size() * 2);
  for (const auto& d : down) {
    if (d.end <= d.start) continue;
    steps.emplace_back(d.start, +1);
    steps.emplace_back(d.end, -1);
  }
  // Ends before starts at the same second: a device back up and another
  // going down at once are never counted together.
  std::sort(steps.begin(), steps.end());
  const std::size_t columns = edges.size() - 1;
  std::vector<std::int64_t> out(columns, 0);
  std::int64_t level = 0;
  std::size_t i = 0;
  for (std::size_t c = 0; c < columns; ++c) {
    // The level carried into the slice counts for it...
    while (i < steps.size() && static_cast<double>(steps[i].first) <= edges[c]) level += steps[i++].second;
    std::int64_t best = level;
    // ...and so does every level reached inside it.
    while (i < steps.size() && static_cast<double>(steps[i].first) < edges[c + 1]) {
      level += steps[i++].second;
      best = std::max(best, level);
    }
    out[c] = best;
  }
  return out;
}

}  // namespace chart_detail

// Renders the chart as an SVG document.
inline std::string render_chart(const chart_spec& spec) {
  using chart_detail::num;
  using chart_detail::escape;
  const double width = 900, height = 540;
  const double left = 90, right = 30, top = 78, bottom = 70;
  const double pw = width - left - right, ph = height - top - bottom;

  // Time axis: log10 of minutes, from 1 minute to the last recovery (at
  // least a day), rounded up to a tick.
  std::int64_t last_end = 0;
  for (const auto& s : spec.series)
    for (const auto& d : s.down) last_end = std::max(last_end, d.end);
  const double tick_minutes[] = {1, 10, 60, 360, 1440, 10080, 20160, 43200, 86400, 525600};
  const char* tick_labels[] = {"1 min", "10 min", "1 h", "6 h", "1 day", "1 week", "2 weeks", "30 days",
                               "60 days", "1 year"};
  double x_max_min = 1440;
  for (double t : tick_minutes)
    if (t >= static_cast<double>(last_end) / 60.0) {
      x_max_min = std::max(x_max_min, t);
      break;
    }
  const double lx0 = 0, lx1 = std::log10(x_max_min);
  auto x_of_min = [&](double minutes) {
    const double m = std::max(minutes, 1.0);
    return left + (std::log10(m) - lx0) / (lx1 - lx0) * pw;
  };

  // Device axis: 0 at the bottom, then log10 from 1 to a power of ten at or
  // above the fleet.
  double y_top_pow = 1;
  while (std::pow(10.0, y_top_pow) < static_cast<double>(spec.fleet_size)) y_top_pow += 1;
  const double zero_gap = 22;
  auto y_of = [&](double v) {
    if (v < 1) return top + ph;
    return top + ph - zero_gap - std::log10(v) / y_top_pow * (ph - zero_gap);
  };

  std::string o;
  o += "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + num(width) + "\" height=\"" + num(height) +
       "\" viewBox=\"0 0 " + num(width) + " " + num(height) + "\" font-family=\"sans-serif\">\n";
  o += "<rect x=\"0\" y=\"0\" width=\"" + num(width) + "\" height=\"" + num(height) + "\" fill=\"white\"/>\n";
  o += "<text x=\"" + num(width / 2) + "\" y=\"28\" font-size=\"18\" text-anchor=\"middle\">" +
       escape(spec.title) + "</text>\n";
  o += "<text x=\"" + num(width / 2) + "\" y=\"50\" font-size=\"12\" fill=\"#555\" text-anchor=\"middle\">" +
       escape(spec.subtitle) + "</text>\n";

  // Grid and ticks.
  for (std::size_t i = 0; i < sizeof tick_minutes / sizeof tick_minutes[0]; ++i) {
    if (tick_minutes[i] > x_max_min) break;
    const double x = x_of_min(tick_minutes[i]);
    o += "<line x1=\"" + num(x) + "\" y1=\"" + num(top) + "\" x2=\"" + num(x) + "\" y2=\"" + num(top + ph) +
         "\" stroke=\"#e4e4e4\"/>\n";
    o += "<text x=\"" + num(x) + "\" y=\"" + num(top + ph + 18) +
         "\" font-size=\"12\" text-anchor=\"middle\">" + tick_labels[i] + "</text>\n";
  }
  for (int p = 0; p <= static_cast<int>(y_top_pow); ++p) {
    const double v = std::pow(10.0, p);
    const double y = y_of(v);
    std::string label = p < 3 ? std::to_string(static_cast<long long>(v))
                              : p < 6 ? std::to_string(static_cast<long long>(v / 1e3)) + "k"
                                      : std::to_string(static_cast<long long>(v / 1e6)) + "M";
    o += "<line x1=\"" + num(left) + "\" y1=\"" + num(y) + "\" x2=\"" + num(left + pw) + "\" y2=\"" + num(y) +
         "\" stroke=\"#e4e4e4\"/>\n";
    o += "<text x=\"" + num(left - 8) + "\" y=\"" + num(y + 4) + "\" font-size=\"12\" text-anchor=\"end\">" +
         label + "</text>\n";
  }
  o += "<text x=\"" + num(left - 8) + "\" y=\"" + num(top + ph + 4) +
       "\" font-size=\"12\" text-anchor=\"end\">0</text>\n";
  o += "<rect x=\"" + num(left) + "\" y=\"" + num(top) + "\" width=\"" + num(pw) + "\" height=\"" + num(ph) +
       "\" fill=\"none\" stroke=\"#333\"/>\n";
  o += "<text x=\"" + num(left + pw / 2) + "\" y=\"" + num(height - 22) +
       "\" font-size=\"13\" text-anchor=\"middle\">time since the update was published (log scale)</text>\n";
  o += "<text x=\"22\" y=\"" + num(top + ph / 2) + "\" font-size=\"13\" text-anchor=\"middle\" transform=\"rotate(-90 22 " +
       num(top + ph / 2) + ")\">devices down (log scale)</text>\n";

  // Markers.
  for (const auto& m : spec.markers) {
    if (m.minute <= 0 || m.minute > x_max_min) continue;
    const double x = x_of_min(m.minute);
    o += "<line x1=\"" + num(x) + "\" y1=\"" + num(top) + "\" x2=\"" + num(x) + "\" y2=\"" + num(top + ph) +
         "\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>\n";
    o += "<text x=\"" + num(x + 4) + "\" y=\"" + num(top + ph - 30) + "\" font-size=\"11\" fill=\"#555\">" +
         escape(m.label) + "</text>\n";
  }

  // Curves: one point per pixel column (its maximum), drawn as steps.
  const std::size_t columns = static_cast<std::size_t>(pw);
  std::vector<double> edges(columns + 1);
  for (std::size_t c = 0; c <= columns; ++c) {
    const double lm = lx0 + (lx1 - lx0) * static_cast<double>(c) / static_cast<double>(columns);
    edges[c] = c == 0 ? -1.0 : std::pow(10.0, lm) * 60.0;  // seconds; column 0 takes everything before 1 min
  }
  for (const auto& s : spec.series) {
    const std::vector<std::int64_t> v = chart_detail::column_max(s.down, edges);
    std::string pts;
    for (std::size_t c = 0; c < columns; ++c) {
      const double x0 = left + static_cast<double>(c), x1 = x0 + 1;
      const double y = y_of(static_cast<double>(v[c]));
      pts += num(x0) + "," + num(y) + " " + num(x1) + "," + num(y) + " ";
    }
    o += "<polyline fill=\"none\" stroke=\"" + s.color + "\" stroke-width=\"2\" points=\"" + pts + "\"/>\n";
  }

  // Legend.
  // Lower middle: below the outage's plateau, right of the early blip, on a
  // box of its own so grid and marker lines do not run through the text.
  const double lx = left + pw * 0.36;
  double ly = y_of(100);
  o += "<rect x=\"" + num(lx - 10) + "\" y=\"" + num(ly - 14) + "\" width=\"330\" height=\"" +
       num(20.0 * static_cast<double>(spec.series.size()) + 8) + "\" fill=\"white\" stroke=\"#999\"/>\n";
  for (const auto& s : spec.series) {
    o += "<line x1=\"" + num(lx) + "\" y1=\"" + num(ly) + "\" x2=\"" + num(lx + 28) + "\" y2=\"" + num(ly) +
         "\" stroke=\"" + s.color + "\" stroke-width=\"3\"/>\n";
    o += "<text x=\"" + num(lx + 36) + "\" y=\"" + num(ly + 4) + "\" font-size=\"12\">" + escape(s.label) +
         "</text>\n";
    ly += 20;
  }
  o += "</svg>\n";
  return o;
}

}  // namespace fleet

#endif  // SLOTGUARD_EXAMPLES_FLEET_CHART_HPP
