/* flowringd.c - the flowring producer daemon: main() only; see daemon.h and docs/OPERATIONS.md.
 *
 * Exit codes: 0 clean stop (SIGTERM/SIGINT, --help, --version), 1 runtime failure (not root, BPF,
 * shm, another instance running), 2 bad flags or configuration (nothing was started).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "daemon.h"
#include "log.h"

int main(int argc, char **argv)
{
	struct fr_config cfg;
	struct fr_daemon d;
	char err[512] = "";
	int rc;

	rc = fr_config_parse(&cfg, argc, argv, err, sizeof(err));
	if (rc == FR_CONFIG_EXIT_OK)
		return 0;
	if (rc < 0) {
		fprintf(stderr, "flowringd: %s\n", err[0] ? err : strerror(-rc));
		fprintf(stderr, "Try 'flowringd --help'.\n");
		return 2;
	}
	fr_log_set_level(cfg.log_level);
	rc = fr_daemon_open(&d, &cfg);
	if (rc) {
		fr_err("flowringd: not started: %s", strerror(-rc));
		fr_config_free(&cfg);
		/* a filter the config parser stored but the filter grammar rejects is a configuration error */
		return rc == -EINVAL ? 2 : 1;
	}
	rc = fr_daemon_run(&d);
	fr_daemon_close(&d);
	fr_config_free(&cfg);
	if (rc) {
		fr_err("flowringd: stopped on error: %s", strerror(-rc));
		return 1;
	}
	fr_info("flowringd: stopped cleanly");
	return 0;
}
