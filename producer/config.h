/* config.h - flowringd's configuration: command-line flags and an optional `key = value` file.
 *
 * Every flag has a config-file key of the same name without the leading dashes (--max-closed ->
 * max-closed). Precedence: built-in default < config file < command line. The file format, the
 * duplicate-key rule and every key are documented in docs/OPERATIONS.md.
 *
 * Contract: fr_config_parse() and fr_config_reload_filters() use getopt_long's global state and are
 * called from main's thread only, before other threads start (reload: from the event loop thread).
 * They never exit() and never print except for --help/--version (stdout).
 */
#ifndef FR_CONFIG_H
#define FR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "log.h"

#define FR_CONFIG_INSTANCE_MAX 32u   /* bytes, without the NUL */
#define FR_CONFIG_PATH_MAX 256u      /* shm dir and config path, with the NUL */
#define FR_CONFIG_SOCK_PATH_MAX 108u /* sizeof(sockaddr_un.sun_path), with the NUL */
#define FR_CONFIG_RUN_DIR "/run/flowring"

/* fr_config_parse() returned after printing --help or --version: the caller exits 0. */
#define FR_CONFIG_EXIT_OK 1

/* A list of raw filter strings (--exclude-src / --exclude-dst), parsed later by producer/filter.h. */
struct fr_config_list {
	char **items;
	size_t n;
	bool from_cmdline; /* set on the command line: the file's entries are ignored, also on reload */
};

struct fr_config {
	char instance[FR_CONFIG_INSTANCE_MAX + 1];
	char shm_dir[FR_CONFIG_PATH_MAX];
	char control_path[FR_CONFIG_SOCK_PATH_MAX]; /* default FR_CONFIG_RUN_DIR/<instance>.sock */
	char config_path[FR_CONFIG_PATH_MAX];       /* empty: no file */
	bool group_set;                             /* false: root-only regions and socket */
	gid_t group;
	uint64_t publish_interval_ms; /* 0: publish snapshots only on request */
	uint32_t max_closed;          /* closed records buffered per client */
	uint32_t max_tracked;         /* remembered keys per client */
	uint32_t max_clients;         /* registered clients */
	uint64_t client_expiry_ms;
	uint64_t udp_idle_timeout_ms;
	struct fr_config_list exclude_src;
	struct fr_config_list exclude_dst;
	bool no_conntrack;
	bool no_udp;
	enum fr_log_level log_level;
	uint64_t ringbuf_size; /* BPF ring buffer bytes: a power of two, >= 4096 */
	uint32_t tcp_map_entries; /* active TCP connections the BPF side tracks */
	uint32_t udp_map_entries; /* active UDP flows the BPF side tracks */
};

/* Fill cfg with the defaults (no allocation). */
void fr_config_defaults(struct fr_config *cfg);

/* Parse argv (and the file named by --config/-c, if any) into cfg, which is first reset to the
 * defaults. Returns 0; FR_CONFIG_EXIT_OK after printing --help or --version to stdout; or a
 * negative errno (-EINVAL for a bad flag/key/value, -ENOENT/-EACCES... for an unreadable file,
 * -ENOMEM) with one line in err naming the flag or `file:line: key` and the bad value. On error
 * nothing is left allocated. Release a successful result with fr_config_free(). */
int fr_config_parse(struct fr_config *cfg, int argc, char **argv, char *err, size_t errlen);

/* SIGHUP: re-read cfg->config_path and replace the exclude lists that came from the file (lists
 * given on the command line stay). The whole file is validated first; on any error cfg is left
 * unchanged and err says why. Returns 0, or -EINVAL/-errno as fr_config_parse(). No file: 0. */
int fr_config_reload_filters(struct fr_config *cfg, char *err, size_t errlen);

/* Free the exclude lists; cfg keeps its scalar values. Safe on a defaults-only cfg, and twice. */
void fr_config_free(struct fr_config *cfg);

/* Helpers shared with the CLI and tested on their own. Each returns 0 or -EINVAL (-ERANGE on
 * overflow) and accepts the whole string only (no sign, no leading/trailing junk). */
/* Durations: <n>ms, <n>s, <n>m, <n>h; a bare number is in bare_unit_ms milliseconds. */
int fr_config_parse_duration_ms(const char *s, uint64_t bare_unit_ms, uint64_t *out_ms);
/* Sizes: <n>, <n>K, <n>M, <n>G (binary units, also KiB/MiB/GiB). */
int fr_config_parse_size(const char *s, uint64_t *out);
/* Unsigned decimal in [min, max]. */
int fr_config_parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out);
/* Instance and client names: 1..FR_CONFIG_INSTANCE_MAX printable non-space bytes, no '/', not
 * starting with '.'. Returns 0 or -EINVAL. */
int fr_config_check_name(const char *s);

#endif /* FR_CONFIG_H */
