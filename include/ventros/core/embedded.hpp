#pragma once
// Files compiled into the executable (see cmake/embed_files.cmake).

#include <optional>
#include <string_view>
#include <vector>

namespace ventros::core {

struct EmbeddedFile {
  std::string_view name;
  std::string_view content;
};

const std::vector<EmbeddedFile>& EmbeddedsqliteMigrations();
const std::vector<EmbeddedFile>& EmbeddedpostgresMigrations();
std::string_view EmbeddedOpenApi();

// A file of the dashboard (ui/), by its name ("index.html"), with its Content-Type.
struct EmbeddedAsset {
  std::string_view name;
  std::string_view content;
  std::string_view content_type;
};
std::optional<EmbeddedAsset> EmbeddedUiFile(std::string_view name);

}  // namespace ventros::core
