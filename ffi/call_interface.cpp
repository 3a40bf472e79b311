// call_interface.cpp: C types and the process-wide cache of prepared call interfaces
// (docs/design/ffi.md .sol.cif).
#include "ffi/call_interface.h"

#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace keel::ffi {

namespace {

struct TypeNameEntry {
  const char* name;
  CType type;
};

template <class T>
constexpr CType SignedOfSize() {
  return sizeof(T) == 8 ? CType::kInt64 : sizeof(T) == 4 ? CType::kInt32 : sizeof(T) == 2 ? CType::kInt16 : CType::kInt8;
}
template <class T>
constexpr CType UnsignedOfSize() {
  return sizeof(T) == 8 ? CType::kUint64 : sizeof(T) == 4 ? CType::kUint32 : sizeof(T) == 2 ? CType::kUint16 : CType::kUint8;
}

// The canonical names first, in CType order (TypeName indexes this), then the aliases.
constexpr TypeNameEntry kTypeNames[] = {
    {"int8", CType::kInt8},
    {"int16", CType::kInt16},
    {"int32", CType::kInt32},
    {"int64", CType::kInt64},
    {"uint8", CType::kUint8},
    {"uint16", CType::kUint16},
    {"uint32", CType::kUint32},
    {"uint64", CType::kUint64},
    {"float", CType::kFloat},
    {"double", CType::kDouble},
    {"pointer", CType::kPointer},
    {"bytes", CType::kBytes},
    {"string/utf-8", CType::kStringUtf8},
    {"void", CType::kVoid},
    {"int", SignedOfSize<int>()},
    {"long", SignedOfSize<long>()},
    {"intptr", SignedOfSize<intptr_t>()},
    {"size_t", UnsignedOfSize<size_t>()},
};

ffi_type* FfiTypeOf(CType t) {
  switch (t) {
    case CType::kInt8: return &ffi_type_sint8;
    case CType::kInt16: return &ffi_type_sint16;
    case CType::kInt32: return &ffi_type_sint32;
    case CType::kInt64: return &ffi_type_sint64;
    case CType::kUint8: return &ffi_type_uint8;
    case CType::kUint16: return &ffi_type_uint16;
    case CType::kUint32: return &ffi_type_uint32;
    case CType::kUint64: return &ffi_type_uint64;
    case CType::kFloat: return &ffi_type_float;
    case CType::kDouble: return &ffi_type_double;
    case CType::kPointer:
    case CType::kBytes:
    case CType::kStringUtf8: return &ffi_type_pointer;
    case CType::kVoid: return &ffi_type_void;
  }
  return &ffi_type_void;
}

// The cache: keyed by the types' bytes, result last. Interfaces are never erased (their
// addresses are handed out), so a std::map of owning pointers suffices.
std::mutex g_cache_lock;
std::map<std::string, std::unique_ptr<CallInterface>>& Cache() {
  static auto* cache = new std::map<std::string, std::unique_ptr<CallInterface>>();
  return *cache;
}

}  // namespace

bool ParseType(const char* name, CType* out) {
  for (const TypeNameEntry& e : kTypeNames) {
    if (std::strcmp(e.name, name) == 0) {
      *out = e.type;
      return true;
    }
  }
  return false;
}

const char* TypeName(CType t) { return kTypeNames[static_cast<size_t>(t)].name; }

const CallInterface* CallInterface::For(std::span<const CType> args, CType result) {
  if (args.size() > kMaxArgs) return nullptr;
  std::string key(reinterpret_cast<const char*>(args.data()), args.size());
  key.push_back(static_cast<char>(result));
  std::lock_guard<std::mutex> hold(g_cache_lock);
  auto& cache = Cache();
  auto it = cache.find(key);
  if (it != cache.end()) return it->second.get();
  std::unique_ptr<CallInterface> ci(new CallInterface());
  if (!ci->Prepare(args, result)) return nullptr;
  return cache.emplace(std::move(key), std::move(ci)).first->second.get();
}

bool CallInterface::Prepare(std::span<const CType> args, CType result) {
  arity_ = args.size();
  for (size_t i = 0; i < arity_; ++i) {
    args_[i] = args[i];
    arg_types_[i] = FfiTypeOf(args[i]);
  }
  result_ = result;
  return ffi_prep_cif(&cif_, FFI_DEFAULT_ABI, static_cast<unsigned>(arity_), FfiTypeOf(result), arg_types_) == FFI_OK;
}

int64_t CallInterface::SignedResult(const Value& r) const {
  switch (result_) {
    case CType::kInt8: return static_cast<int8_t>(r.sret);
    case CType::kInt16: return static_cast<int16_t>(r.sret);
    case CType::kInt32: return static_cast<int32_t>(r.sret);
    default: return r.i64;
  }
}

uint64_t CallInterface::UnsignedResult(const Value& r) const {
  switch (result_) {
    case CType::kUint8: return static_cast<uint8_t>(r.ret);
    case CType::kUint16: return static_cast<uint16_t>(r.ret);
    case CType::kUint32: return static_cast<uint32_t>(r.ret);
    default: return r.u64;
  }
}

}  // namespace keel::ffi
