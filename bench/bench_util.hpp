#pragma once
// What every benchmark tool prints and measures the same way: one JSON line per figure
// ({"bench","metric","value","unit"}, what scripts/bench collects), percentiles, elapsed time and
// the process's resident memory.

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

namespace ventros::bench {

inline void Emit(const std::string& bench, const std::string& metric, double value,
                 const std::string& unit, int decimals = 3) {
  std::cout << fmt::format(R"({{"bench":"{}","metric":"{}","value":{:.{}f},"unit":"{}"}})", bench,
                           metric, value, decimals, unit)
            << std::endl;
}

// The value at quantile `p` (0..1), nearest rank; 0 for no values.
inline double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

inline double Sum(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return s;
}

// Seconds from `start` to now on the same clock.
template <typename TimePoint>
double Seconds(TimePoint start) {
  return std::chrono::duration<double>(TimePoint::clock::now() - start).count();
}

// VmRSS of this process in MB (0 when /proc is not there).
inline double RssMb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  }
  return 0;
}

}  // namespace ventros::bench
