/* log.c - see log.h. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static enum fr_log_level fr_log_level_cur = FR_LOG_INFO;

static const char *const fr_log_names[] = {"error", "warn", "info", "debug"};

void fr_log_set_level(enum fr_log_level level)
{
	fr_log_level_cur = level;
}

enum fr_log_level fr_log_get_level(void)
{
	return fr_log_level_cur;
}

int fr_log_parse_level(const char *s, enum fr_log_level *out)
{
	for (unsigned i = 0; i < sizeof(fr_log_names) / sizeof(fr_log_names[0]); i++) {
		if (strcmp(s, fr_log_names[i]) == 0) {
			*out = (enum fr_log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void fr_log(enum fr_log_level level, const char *fmt, ...)
{
	char buf[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	int n, m;

	if (level > fr_log_level_cur)
		return;
	/* errno is the caller's context: formatting must not clobber it */
	int saved_errno = errno;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = snprintf(buf, sizeof(buf), "%02d:%02d:%02d.%03ld %-5s ", tm.tm_hour, tm.tm_min, tm.tm_sec,
		     ts.tv_nsec / 1000000, fr_log_names[level]);
	va_start(ap, fmt);
	m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	/* one write per line: lines from concurrent threads stay whole */
	if (write(STDERR_FILENO, buf, (size_t)n) < 0) {
		/* nowhere left to report it */
	}
	errno = saved_errno;
}
