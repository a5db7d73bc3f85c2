/* cli_run.h - run the real flowring binary (FR_CLI_BIN) against test_cli's fake producer: its stdout
 * and stderr go to files in the fake's temp dir, read back into `run`; plus the text checks the
 * tests make on that output. Test thread only. */
#ifndef FR_CLI_RUN_H
#define FR_CLI_RUN_H

#include <stddef.h>
#include <sys/types.h>

struct run {
	int status; /* exit code, or 128+signal */
	char out[65536], err[8192];
	size_t nout;
};
/* The last collected run (and, while one runs, what wait_* read of its stdout so far). */
extern struct run run;

/* Read at most cap-1 bytes of path into buf, NUL-terminated (empty if it cannot be read). */
void slurp(const char *path, char *buf, size_t cap, size_t *n);

/* Start flowring with args (NULL-terminated, argv[0] excluded), output to the temp dir's out/err. */
pid_t spawn_cli(const char *const *args);

/* Wait for pid at most 15 s (then kill it and fail); returns its wait status. */
int wait_exit(pid_t pid);

/* Wait for pid and fill run with its exit status and output. */
void collect(pid_t pid);

/* flowring <args> --shm-dir tmp --control sock --instance inst; returns run.status. */
int cli(const char *a0, ...);

unsigned count_lines(const char *s);
unsigned count_str(const char *s, const char *needle);

/* Line k (0-based) of s copied into buf, or NULL if s has no such line. */
const char *nth_line(const char *s, unsigned k, char *buf, size_t len);

/* Poll the running CLI's stdout (10 s at most) until it has n lines / needle occurs n times / once. */
void wait_lines(unsigned n);
void wait_count(const char *needle, unsigned n);
void wait_output(const char *needle);

/* Every needle (NULL-terminated list) occurs in line. */
void assert_has(const char *line, ...);

#endif /* FR_CLI_RUN_H */
