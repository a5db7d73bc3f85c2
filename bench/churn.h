/* churn.h - the churn bench's pieces (bench/bench_churn.c): the loopback TCP churn generator (churn_workload.c) and
 * the cost of a tracing tool, its process CPU and its BPF programs' run time (churn_cost.c). */
#ifndef FR_CHURN_H
#define FR_CHURN_H

#include <stdint.h>
#include <sys/types.h>

#define FR_CHURN_MAXP 64 /* BPF programs of one tool */
#define FR_CHURN_MAXW 16 /* worker process pairs */
#define FR_CHURN_IDLE_US 1000000

struct fr_churn_cost {
	uint64_t cpu_ticks; /* utime + stime of the tool's process, clock ticks */
	uint64_t bpf_ns;    /* sum of run_time_ns of the tool's BPF programs */
};

struct fr_churn_result {
	const char *tool;
	int ran;
	uint64_t conns;        /* connections the generator completed */
	uint64_t conn_fail;    /* connections the generator could not complete */
	double secs;           /* wall time of the churn */
	uint64_t captured;     /* socket ends of the churn the tool reported */
	uint64_t tool_lost;    /* loss the tool itself counted (flowringd: telemetry; tcplife: perf "lost") */
	uint64_t bench_lapped; /* flowringd only: records the bench's reader missed (not a tool loss) */
	double cpu_s, bpf_s;   /* during the churn and its settle time */
	double idle_cpu_s, idle_bpf_s; /* the same over FR_CHURN_IDLE_US before the churn: the tool's floor */
	int nprogs;
};

/* churn_cost.c: distinct BPF program ids the process holds (fdinfo "prog_id:" of its prog and link fds). */
int fr_churn_prog_ids(pid_t pid, uint32_t *ids, int max);
void fr_churn_cost_read(pid_t pid, const uint32_t *ids, int n, struct fr_churn_cost *c);
void fr_churn_cost_diff(const struct fr_churn_cost *a, const struct fr_churn_cost *b, struct fr_churn_result *r);
/* The tool's cost with no churn (heartbeats, polling, other hosts' traffic): said apart from the churn's cost. */
void fr_churn_idle(pid_t pid, const uint32_t *ids, int n, struct fr_churn_result *r);

/* churn_workload.c: a listener on 127.0.0.1 (its port identifies the churn's records), and the churn on it. */
int fr_churn_listen(uint16_t *port);
int fr_churn_run(int lfd, uint64_t n, unsigned workers, struct fr_churn_result *r);

#endif /* FR_CHURN_H */
