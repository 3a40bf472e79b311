// fatal.h: how Keel reports a misuse it cannot recover from: a message that names the problem
// on stderr ("keel: ..."), then abort(). DESIGN D12.
#ifndef KEEL_GC_FATAL_H
#define KEEL_GC_FATAL_H

namespace keel {

[[noreturn]] void Fatal(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// A warning on stderr (or the bdwgc warn procedure when one is set).
void Warn(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

using WarnProc = void (*)(char* msg, unsigned long arg);
void SetWarnProc(WarnProc p);
WarnProc GetWarnProc();

}  // namespace keel

#endif  // KEEL_GC_FATAL_H
