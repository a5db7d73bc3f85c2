/* control_socket.c - the control socket's file, created and removed safely (see control_socket.h). */
#define _GNU_SOURCE /* struct ucred */
#include "control_socket.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

#define FR_CTL_RUN_DIR "/run/flowring"

/* Is someone listening on path? 1 (and *pid) if so, 0 if the socket is stale, else -errno. */
static int fr_ctl_probe(const char *path, pid_t *pid)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct ucred cr;
	socklen_t crlen = sizeof(cr);
	int fd, rc;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	if (rc < 0 && errno != EAGAIN) {
		rc = errno == ECONNREFUSED ? 0 : -errno;
		goto cleanup;
	}
	/* connected, or a live listener with a full backlog (EAGAIN): it is alive either way */
	*pid = 0;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &crlen) == 0)
		*pid = cr.pid;
	rc = 1;
cleanup:
	close(fd);
	return rc;
}

int fr_ctl_fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static int fr_ctl_make_parent(const char *path, char *err, size_t errlen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (stat(dir, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : fr_ctl_fail(err, errlen, -ENOTDIR, "%s is not a directory", dir);
	if (errno != ENOENT || strcmp(dir, FR_CTL_RUN_DIR) != 0)
		return fr_ctl_fail(err, errlen, -errno, "control socket directory %s: %s", dir, strerror(errno));
	/* only our own runtime dir is created: a typo elsewhere should fail, not grow a tree */
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return fr_ctl_fail(err, errlen, -errno, "mkdir %s: %s", dir, strerror(errno));
	return 0;
}

static int fr_ctl_take_lock(struct fr_ctl_socket *k, char *err, size_t errlen)
{
	char lock[sizeof(k->path) + 8];
	pid_t pid = 0;

	snprintf(lock, sizeof(lock), "%s.lock", k->path);
	/* The holder removes the lock file when it stops (nothing is left behind), so the file we locked may
	 * have been unlinked by its previous holder meanwhile: the lock counts only if the name still
	 * leads to the file we hold. A few rounds at most: each retry means a daemon just stopped. */
	int flock_errno = 0;
	for (int round = 0; round < 8 && !flock_errno; round++) {
		struct stat held, named;

		k->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
		if (k->lock_fd < 0)
			return fr_ctl_fail(err, errlen, -errno, "lock file %s: %s", lock, strerror(errno));
		if (flock(k->lock_fd, LOCK_EX | LOCK_NB) != 0)
			flock_errno = errno;
		else if (fstat(k->lock_fd, &held) == 0 && stat(lock, &named) == 0 && held.st_dev == named.st_dev &&
			 held.st_ino == named.st_ino)
			return 0;
		/* not ours (or ours no longer): k->lock_fd < 0 tells fr_ctl_socket_unlock it must not unlink
		 * the file another daemon holds */
		close(k->lock_fd);
		k->lock_fd = -1;
	}
	if (!flock_errno)
		return fr_ctl_fail(err, errlen, -EAGAIN, "lock file %s keeps changing: another flowringd is starting",
				   lock);
	if (flock_errno != EWOULDBLOCK)
		return fr_ctl_fail(err, errlen, -flock_errno, "flock %s: %s", lock, strerror(flock_errno));
	if (fr_ctl_probe(k->path, &pid) == 1 && pid > 0)
		return fr_ctl_fail(err, errlen, -EADDRINUSE,
				   "control socket %s is held by a running flowringd (pid %d); use another --instance "
				   "or --control",
				   k->path, (int)pid);
	return fr_ctl_fail(err, errlen, -EADDRINUSE, "control socket %s is locked by another flowringd (%s)", k->path,
			   lock);
}

static int fr_ctl_bind(struct fr_ctl_socket *k, bool group_set, gid_t group, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	pid_t pid = 0;
	int rc;

	if (lstat(k->path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode))
			return fr_ctl_fail(err, errlen, -EEXIST, "%s exists and is not a socket; refusing to replace it",
					   k->path);
		rc = fr_ctl_probe(k->path, &pid);
		if (rc == 1)
			return fr_ctl_fail(err, errlen, -EADDRINUSE, "control socket %s is in use by pid %d", k->path,
					   (int)pid);
		if (rc < 0)
			return fr_ctl_fail(err, errlen, rc, "probing %s: %s", k->path, strerror(-rc));
		fr_info("control: removing stale socket %s (nobody answers on it)", k->path);
		if (unlink(k->path) < 0 && errno != ENOENT)
			return fr_ctl_fail(err, errlen, -errno, "unlink %s: %s", k->path, strerror(errno));
	}
	k->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (k->listen_fd < 0)
		return fr_ctl_fail(err, errlen, -errno, "socket: %s", strerror(errno));
	memcpy(sa.sun_path, k->path, strlen(k->path) + 1);
	if (bind(k->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return fr_ctl_fail(err, errlen, -errno, "bind %s: %s", k->path, strerror(errno));
	if (lstat(k->path, &st) < 0)
		return fr_ctl_fail(err, errlen, -errno, "stat %s: %s", k->path, strerror(errno));
	k->dev = st.st_dev;
	k->ino = st.st_ino;
	/* permissions are final before listen(): nobody can connect while they are still umask's */
	if (chmod(k->path, 0660) < 0)
		return fr_ctl_fail(err, errlen, -errno, "chmod %s: %s", k->path, strerror(errno));
	if (group_set && chown(k->path, (uid_t)-1, group) < 0)
		return fr_ctl_fail(err, errlen, -errno, "chown %s to gid %u: %s", k->path, (unsigned)group,
				   strerror(errno));
	if (listen(k->listen_fd, 128) < 0)
		return fr_ctl_fail(err, errlen, -errno, "listen %s: %s", k->path, strerror(errno));
	return 0;
}

int fr_ctl_socket_open(struct fr_ctl_socket *k, bool group_set, gid_t group, char *err, size_t errlen)
{
	int rc = fr_ctl_make_parent(k->path, err, errlen);

	if (!rc)
		rc = fr_ctl_take_lock(k, err, errlen);
	if (!rc)
		rc = fr_ctl_bind(k, group_set, group, err, errlen);
	return rc;
}

void fr_ctl_socket_close_listener(struct fr_ctl_socket *k)
{
	struct stat st;

	if (k->listen_fd < 0)
		return;
	/* only our own socket: a file someone put there after us is not ours to remove */
	if (lstat(k->path, &st) == 0 && st.st_dev == k->dev && st.st_ino == k->ino)
		unlink(k->path);
	close(k->listen_fd);
	k->listen_fd = -1;
}

void fr_ctl_socket_unlock(struct fr_ctl_socket *k)
{
	char lock[sizeof(k->path) + 8];

	if (k->lock_fd < 0)
		return;
	/* unlink while still holding it: a daemon waiting for it re-checks the name (fr_ctl_take_lock) */
	snprintf(lock, sizeof(lock), "%s.lock", k->path);
	unlink(lock);
	close(k->lock_fd);
	k->lock_fd = -1;
}
