#pragma once
// Names and priorities of this process's own threads, so that `top -H`, `ps -L` and profilers
// show what each one does.

#include <string_view>

namespace ventros::core {

// Names the calling thread (Linux keeps the first 15 bytes), e.g. "bus:waha.media".
void NameThisThread(std::string_view name);

// Lowers the calling thread's CPU priority to `nice` (0..19; Linux: per thread). False when the
// system refuses.
bool NiceThisThread(int nice);

}  // namespace ventros::core
