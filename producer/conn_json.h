/* conn_json.h - render one struct fr_conn as one JSON object (the JSON contract of docs/BPF.md):
 * snake_case names of the seed's ConnectionStats plus cookie, start_ns, end_ns and flags.
 *
 * No allocation, no locale: safe from any thread on distinct buffers.
 */
#ifndef FR_CONN_JSON_H
#define FR_CONN_JSON_H

#include <stddef.h>

#include "flowring/record.h"

/* A buffer this large always fits one object. */
#define FR_CONN_JSON_MAX 1536

/* Write the object (no trailing newline) NUL-terminated into buf. Returns its length, or -ENOSPC
 * if len is too small (buf then holds a truncated, NUL-terminated prefix). */
int fr_conn_json_format(const struct fr_conn *c, char *buf, size_t len);

#endif /* FR_CONN_JSON_H */
