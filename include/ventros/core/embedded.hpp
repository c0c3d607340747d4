#pragma once
// Files compiled into the executable (see cmake/embed_files.cmake).

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

}  // namespace ventros::core
