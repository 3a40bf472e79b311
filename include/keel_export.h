/* keel_export.h: the one export macro of Keel's public C ABI.
 * Every declaration in Keel's installed headers is marked KEEL_API; the library is built with
 * -fvisibility=hidden, so nothing else leaves it. */
#ifndef KEEL_EXPORT_H
#define KEEL_EXPORT_H

#if defined(KEEL_BUILDING_LIBRARY) || !defined(_WIN32)
#define KEEL_API __attribute__((visibility("default")))
#else
#define KEEL_API
#endif

#ifdef __cplusplus
#define KEEL_EXTERN_C_BEGIN extern "C" {
#define KEEL_EXTERN_C_END }
#else
#define KEEL_EXTERN_C_BEGIN
#define KEEL_EXTERN_C_END
#endif

#endif /* KEEL_EXPORT_H */
