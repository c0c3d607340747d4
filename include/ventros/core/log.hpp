#pragma once
// Logging on spdlog: text or JSON lines, level from config. The logger is built by the
// composition root and passed in; nothing logs through a global.

#include <spdlog/logger.h>

#include <memory>

#include "ventros/core/config.hpp"
#include "ventros/core/status.hpp"

namespace ventros::core {

using Logger = std::shared_ptr<spdlog::logger>;

// Builds the "ventros" logger from config.log (level, format, file).
Result<Logger> MakeLogger(const Config::Log& config);
// A logger that drops everything (tests that do not look at logs).
Logger NullLogger();
// Escapes text for inclusion inside a JSON string.
std::string JsonEscape(std::string_view text);

}  // namespace ventros::core
