// call_interface.h: the C++ layer over libffi (DESIGN D9, docs/design/ffi.md .sol.cif): C types,
// and prepared call interfaces (an ffi_cif with its argument types) cached process-wide by
// signature. Calling a prepared interface allocates nothing, GC memory or malloc.
#ifndef KEEL_FFI_CALL_INTERFACE_H
#define KEEL_FFI_CALL_INTERFACE_H

#include <ffi.h>

#include <cstddef>
#include <cstdint>
#include <span>

namespace keel::ffi {

// The C types a signature is made of. The platform's names (int, long, intptr, size_t) are
// aliases resolved to these when a signature is parsed (ParseType).
enum class CType : uint8_t {
  kInt8, kInt16, kInt32, kInt64,
  kUint8, kUint16, kUint32, kUint64,
  kFloat, kDouble,
  kPointer,     // a C pointer object, a byte string's data, or NULL
  kBytes,       // a byte string's data, or NULL
  kStringUtf8,  // a NUL-terminated UTF-8 copy of a char string, or NULL
  kVoid,        // results only
};

// The type a symbol names (aliases resolved); false for a name that is no type.
bool ParseType(const char* name, CType* out);
// The canonical name (the one error messages use).
const char* TypeName(CType t);
constexpr bool IsInteger(CType t) { return t <= CType::kUint64; }
constexpr bool IsSigned(CType t) { return t <= CType::kInt64; }
// The range of an integer type: its width is 8 << (t mod 4) bits.
constexpr int BitsOf(CType t) { return 8 << (static_cast<int>(t) & 3); }
constexpr int64_t MinOf(CType t) { return IsSigned(t) ? -(int64_t{1} << (BitsOf(t) - 2)) * 2 : 0; }
constexpr uint64_t MaxOf(CType t) {
  return !IsInteger(t) ? 0 : IsSigned(t) ? (uint64_t{1} << (BitsOf(t) - 1)) - 1 : (uint64_t{2} << (BitsOf(t) - 1)) - 1;
}
static_assert(MinOf(CType::kInt8) == INT8_MIN && MaxOf(CType::kInt8) == INT8_MAX);
static_assert(MinOf(CType::kInt64) == INT64_MIN && MaxOf(CType::kInt64) == INT64_MAX);
static_assert(MinOf(CType::kUint32) == 0 && MaxOf(CType::kUint32) == UINT32_MAX);
static_assert(MaxOf(CType::kUint64) == UINT64_MAX && MaxOf(CType::kDouble) == 0);

// The most arguments a signature takes: call paths keep arguments in fixed arrays on the stack
// (nothing to free when an error escapes), and no C function that libffi calls takes more in
// practice.
inline constexpr size_t kMaxArgs = 64;

// One C argument or result as libffi reads and writes it. A result of an integer type narrower
// than a word is widened to ffi_arg (libffi's rule), so results are read through `ret`.
union Value {
  int8_t i8;
  int16_t i16;
  int32_t i32;
  int64_t i64;
  uint8_t u8;
  uint16_t u16;
  uint32_t u32;
  uint64_t u64;
  float f;
  double d;
  void* p;
  ffi_arg ret;
  ffi_sarg sret;
};

// A prepared call interface. Made only by For(), owned by the process-wide cache and never
// freed (the number of distinct signatures a program uses is small and fixed), so a pointer to
// one stays valid for the life of the process and may be used from any thread.
class CallInterface {
 public:
  // The interface for these types, prepared on first use (takes the cache's lock). Returns
  // nullptr if libffi refuses the signature; args.size() <= kMaxArgs.
  static const CallInterface* For(std::span<const CType> args, CType result);

  // Calls fn: args[i] points at argument i, result at room for the result (a Value). Allocates
  // nothing.
  void Call(void* fn, void** args, Value* result) const {
    ffi_call(const_cast<ffi_cif*>(&cif_), reinterpret_cast<void (*)()>(fn), result, args);
  }

  size_t arity() const { return arity_; }
  CType arg(size_t i) const { return args_[i]; }
  CType result() const { return result_; }
  // For libffi closures (callbacks) over this interface.
  ffi_cif* cif() const { return const_cast<ffi_cif*>(&cif_); }

  // Reads a result of the interface's result type from r as a 64-bit value of its kind (narrow
  // integers come back widened in r.ret).
  int64_t SignedResult(const Value& r) const;
  uint64_t UnsignedResult(const Value& r) const;

  CallInterface(const CallInterface&) = delete;
  CallInterface& operator=(const CallInterface&) = delete;

 private:
  CallInterface() = default;
  bool Prepare(std::span<const CType> args, CType result);

  ffi_cif cif_{};
  size_t arity_ = 0;
  CType args_[kMaxArgs]{};
  ffi_type* arg_types_[kMaxArgs]{};
  CType result_ = CType::kVoid;
};

}  // namespace keel::ffi

#endif  // KEEL_FFI_CALL_INTERFACE_H
