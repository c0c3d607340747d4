#include <iostream>

#include "app/app.hpp"
#include "ventros/core/config.hpp"

int main(int argc, char** argv) {
  return ventros::app::RunCli(argc, argv, std::cout, std::cerr,
                              ventros::core::ConfigLoader::ProcessEnvironment());
}
