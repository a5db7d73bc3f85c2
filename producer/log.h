/* log.h - the one logging module of the producer and the tools.
 *
 * Log once where a failure starts, with context; callers above pass the negative errno up.
 * Thread-safe: each message is formatted into one buffer and written with a single write(2),
 * so lines from different threads never interleave. Never used by the consumer SDK.
 */
#ifndef FR_LOG_H
#define FR_LOG_H

enum fr_log_level { FR_LOG_ERROR = 0, FR_LOG_WARN = 1, FR_LOG_INFO = 2, FR_LOG_DEBUG = 3 };

/* Set the most verbose level printed (default FR_LOG_INFO). Call before threads start. */
void fr_log_set_level(enum fr_log_level level);
enum fr_log_level fr_log_get_level(void);

/* Parse "error", "warn", "info" or "debug". Returns 0, or -EINVAL for anything else. */
int fr_log_parse_level(const char *s, enum fr_log_level *out);

void fr_log(enum fr_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define fr_err(...) fr_log(FR_LOG_ERROR, __VA_ARGS__)
#define fr_warn(...) fr_log(FR_LOG_WARN, __VA_ARGS__)
#define fr_info(...) fr_log(FR_LOG_INFO, __VA_ARGS__)
#define fr_dbg(...) fr_log(FR_LOG_DEBUG, __VA_ARGS__)

#endif /* FR_LOG_H */
