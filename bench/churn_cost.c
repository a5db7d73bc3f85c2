/* churn_cost.c - what a tracing tool costs during the churn bench: its process CPU (/proc/<pid>/stat) and its BPF
 * programs' run time (kernel bpf_stats), see churn.h. */
#include <bpf/bpf.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "churn.h"

static int fr_churn_proc_ticks(pid_t pid, uint64_t *out)
{
	char path[64], buf[1024];
	unsigned long ut, st;
	int fd, rc = -EIO;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = '\0';
		/* comm may contain spaces and parentheses: fields restart after the last ')' */
		char *p = strrchr(buf, ')');
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2) {
			*out = ut + st;
			rc = 0;
		}
	}
	close(fd);
	return rc;
}

/* Distinct BPF program ids the process holds (fdinfo "prog_id:" of its prog and link fds). */
int fr_churn_prog_ids(pid_t pid, uint32_t *ids, int max)
{
	char path[64], line[128];
	struct dirent *e;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo", (int)pid);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((e = readdir(dir)) != NULL && n < max) {
		char fpath[600];
		uint32_t id;
		FILE *f;

		if (!isdigit((unsigned char)e->d_name[0]))
			continue;
		snprintf(fpath, sizeof(fpath), "%s/%s", path, e->d_name);
		f = fopen(fpath, "re");
		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "prog_id: %u", &id) != 1)
				continue;
			int dup = 0;
			for (int i = 0; i < n; i++)
				dup |= ids[i] == id;
			if (!dup && n < max)
				ids[n++] = id;
		}
		fclose(f);
	}
	closedir(dir);
	return n;
}

static uint64_t fr_churn_bpf_ns(const uint32_t *ids, int n)
{
	uint64_t sum = 0;

	for (int i = 0; i < n; i++) {
		struct bpf_prog_info info;
		__u32 len = sizeof(info);
		int fd = bpf_prog_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0)
			sum += info.run_time_ns;
		close(fd);
	}
	return sum;
}

void fr_churn_cost_read(pid_t pid, const uint32_t *ids, int n, struct fr_churn_cost *c)
{
	c->cpu_ticks = 0;
	fr_churn_proc_ticks(pid, &c->cpu_ticks);
	c->bpf_ns = fr_churn_bpf_ns(ids, n);
}

void fr_churn_cost_diff(const struct fr_churn_cost *a, const struct fr_churn_cost *b, struct fr_churn_result *r)
{
	long hz = sysconf(_SC_CLK_TCK);

	r->cpu_s = (double)(b->cpu_ticks - a->cpu_ticks) / (double)(hz > 0 ? hz : 100);
	r->bpf_s = (double)(b->bpf_ns - a->bpf_ns) / 1e9;
}

/* The tool's cost with no churn (heartbeats, polling, other hosts' traffic): said apart from the churn's cost. */
void fr_churn_idle(pid_t pid, const uint32_t *ids, int n, struct fr_churn_result *r)
{
	struct fr_churn_cost a, b;
	struct fr_churn_result tmp = {0};

	fr_churn_cost_read(pid, ids, n, &a);
	usleep(FR_CHURN_IDLE_US);
	fr_churn_cost_read(pid, ids, n, &b);
	fr_churn_cost_diff(&a, &b, &tmp);
	r->idle_cpu_s = tmp.cpu_s;
	r->idle_bpf_s = tmp.bpf_s;
}
