/* loop.c - see loop.h. */
#include "loop.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <ck_pr.h>
#include <liburing.h>

#include "log.h"

struct fr_loop_src {
	struct fr_loop_src *next; /* all sources, for fr_loop_free */
	fr_loop_fn fn;
	void *ctx;
	int fd;
	uint32_t events;
	bool is_timer;
	bool removed;  /* no more callbacks; freed once the kernel lets go of it */
	bool armed;    /* a poll is in flight for it */
};

struct fr_loop {
	struct io_uring ring;
	struct fr_loop_src *srcs;
	struct fr_loop_src *stop_src;
	int stop_fd;
	int stopping; /* ck_pr: written by fr_loop_stop from any thread */
};

/* user_data 0 marks completions we do not care about (poll removals) */
#define FR_LOOP_IGNORE 0ull

static struct io_uring_sqe *fr_loop_sqe(struct fr_loop *l)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&l->ring);

	if (!sqe) {
		/* the SQ is full: flush it to the kernel and try once more */
		io_uring_submit(&l->ring);
		sqe = io_uring_get_sqe(&l->ring);
	}
	return sqe;
}

static int fr_loop_arm(struct fr_loop *l, struct fr_loop_src *s)
{
	struct io_uring_sqe *sqe = fr_loop_sqe(l);

	if (!sqe)
		return -EBUSY;
	io_uring_prep_poll_multishot(sqe, s->fd, s->events);
	io_uring_sqe_set_data(sqe, s);
	s->armed = true;
	return 0;
}

static int fr_loop_add(struct fr_loop *l, int fd, uint32_t events, bool is_timer, fr_loop_fn fn, void *ctx,
		       struct fr_loop_src **out)
{
	struct fr_loop_src *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return -ENOMEM;
	s->fd = fd;
	s->events = events;
	s->is_timer = is_timer;
	s->fn = fn;
	s->ctx = ctx;
	err = fr_loop_arm(l, s);
	if (err) {
		free(s);
		return err;
	}
	s->next = l->srcs;
	l->srcs = s;
	if (out)
		*out = s;
	return 0;
}

static int fr_loop_on_stop(void *ctx, uint32_t revents)
{
	struct fr_loop *l = ctx;
	uint64_t v;

	(void)revents;
	if (read(l->stop_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return -errno;
	ck_pr_store_int(&l->stopping, 1);
	return 0;
}

/* Completions are run only when this thread asks for them (DEFER_TASKRUN, one issuer): a ready source
 * then costs no interrupt of a running loop and no extra wake-up, only the io_uring_enter that waits
 * anyway. Kernels before 6.1 refuse the flags: plain ring. */
static int fr_loop_ring_init(struct fr_loop *l, unsigned entries)
{
	struct io_uring_params p = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN};
	int err = io_uring_queue_init_params(entries, &l->ring, &p);

	if (err == -EINVAL)
		err = io_uring_queue_init(entries, &l->ring, 0);
	return err;
}

struct fr_loop *fr_loop_new(unsigned entries)
{
	struct fr_loop *l = calloc(1, sizeof(*l));
	int err;

	if (!l)
		return NULL;
	l->stop_fd = -1;
	err = fr_loop_ring_init(l, entries ? entries : 64);
	if (err) {
		fr_err("io_uring_queue_init: %s", strerror(-err));
		free(l);
		errno = -err;
		return NULL;
	}
	l->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (l->stop_fd < 0) {
		err = -errno;
		goto fail;
	}
	err = fr_loop_add(l, l->stop_fd, POLLIN, false, fr_loop_on_stop, l, &l->stop_src);
	if (err)
		goto fail;
	return l;
fail:
	fr_loop_free(l);
	errno = -err;
	return NULL;
}

void fr_loop_free(struct fr_loop *l)
{
	struct fr_loop_src *s, *next;

	if (!l)
		return;
	/* closing the ring cancels every poll still in flight: no completion can name a freed source */
	io_uring_queue_exit(&l->ring);
	for (s = l->srcs; s; s = next) {
		next = s->next;
		if (s->is_timer && s->fd >= 0)
			close(s->fd);
		free(s);
	}
	if (l->stop_fd >= 0)
		close(l->stop_fd);
	free(l);
}

int fr_loop_add_fd(struct fr_loop *l, int fd, uint32_t events, fr_loop_fn fn, void *ctx, struct fr_loop_src **out)
{
	if (fd < 0 || !fn)
		return -EINVAL;
	return fr_loop_add(l, fd, events, false, fn, ctx, out);
}

int fr_loop_timer_set(struct fr_loop_src *s, uint64_t interval_ns)
{
	struct itimerspec its = {0};

	if (!s->is_timer)
		return -EINVAL;
	its.it_interval.tv_sec = (time_t)(interval_ns / 1000000000ull);
	its.it_interval.tv_nsec = (long)(interval_ns % 1000000000ull);
	its.it_value = its.it_interval;
	return timerfd_settime(s->fd, 0, &its, NULL) ? -errno : 0;
}

int fr_loop_add_timer(struct fr_loop *l, uint64_t interval_ns, fr_loop_fn fn, void *ctx, struct fr_loop_src **out)
{
	struct fr_loop_src *s;
	int fd, err;

	if (!fn)
		return -EINVAL;
	fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = fr_loop_add(l, fd, POLLIN, true, fn, ctx, &s);
	if (err) {
		close(fd);
		return err;
	}
	err = fr_loop_timer_set(s, interval_ns);
	if (err) {
		fr_loop_remove(l, s);
		return err;
	}
	if (out)
		*out = s;
	return 0;
}

static void fr_loop_unlink(struct fr_loop *l, struct fr_loop_src *s)
{
	struct fr_loop_src **pp;

	for (pp = &l->srcs; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			break;
		}
	}
	if (s->is_timer && s->fd >= 0)
		close(s->fd);
	free(s);
}

void fr_loop_remove(struct fr_loop *l, struct fr_loop_src *s)
{
	struct io_uring_sqe *sqe;

	if (!s || s->removed)
		return;
	s->removed = true;
	if (!s->armed) {
		fr_loop_unlink(l, s);
		return;
	}
	/* the poll's last completion (without IORING_CQE_F_MORE) frees it in fr_loop_run */
	sqe = fr_loop_sqe(l);
	if (sqe) {
		io_uring_prep_poll_remove(sqe, (uint64_t)(uintptr_t)s);
		io_uring_sqe_set_data64(sqe, FR_LOOP_IGNORE);
	}
}

static int fr_loop_dispatch(struct fr_loop *l, struct fr_loop_src *s, int res, unsigned flags)
{
	uint64_t expirations;
	int err = 0;

	if (!(flags & IORING_CQE_F_MORE))
		s->armed = false;
	if (!s->removed && res >= 0) {
		if (s->is_timer && read(s->fd, &expirations, sizeof(expirations)) < 0 && errno == EAGAIN)
			goto rearm; /* spurious: the timer was re-set since it fired */
		err = s->fn(s->ctx, (uint32_t)res);
	} else if (!s->removed && res < 0 && res != -ECANCELED) {
		fr_warn("loop: poll on fd %d failed: %s", s->fd, strerror(-res));
	}
rearm:
	if (s->removed) {
		if (!s->armed)
			fr_loop_unlink(l, s);
		return err;
	}
	if (!s->armed) {
		int e = fr_loop_arm(l, s);
		if (e && !err)
			err = e;
	}
	return err;
}

int fr_loop_run(struct fr_loop *l)
{
	struct io_uring_cqe *cqe;
	unsigned head, seen;
	int err = 0;

	while (!ck_pr_load_int(&l->stopping) && !err) {
		int r = io_uring_submit_and_wait(&l->ring, 1);

		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
			fr_err("loop: io_uring_submit_and_wait: %s", strerror(-r));
			return r;
		}
		seen = 0;
		io_uring_for_each_cqe(&l->ring, head, cqe) {
			struct fr_loop_src *s = io_uring_cqe_get_data(cqe);
			int res = cqe->res;
			unsigned flags = cqe->flags;

			seen++;
			if (!s)
				continue;
			/* callbacks may add sources (new SQEs) but never touch the CQ, so the walk stays valid */
			int e = fr_loop_dispatch(l, s, res, flags);
			if (e && !err)
				err = e;
		}
		io_uring_cq_advance(&l->ring, seen);
	}
	/* a later fr_loop_run starts afresh */
	ck_pr_store_int(&l->stopping, 0);
	return err;
}

void fr_loop_stop(struct fr_loop *l)
{
	uint64_t one = 1;

	ck_pr_store_int(&l->stopping, 1);
	/* async-signal-safe wake of io_uring_submit_and_wait via the stop eventfd */
	if (write(l->stop_fd, &one, sizeof(one)) < 0) {
		/* EAGAIN: the counter is saturated, a wake-up is already pending */
	}
}
