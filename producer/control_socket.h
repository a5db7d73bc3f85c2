/* control_socket.h - the control socket's file on disk, created and removed safely: the parent dir
 * (only /run/flowring is ever created), a lock file so two daemons never share a path, a stale
 * socket replaced only when nobody answers on it, permissions final before listen(), and at close
 * only our own files removed. Used by control_server.c from the daemon's event-loop thread. */
#ifndef FR_CONTROL_SOCKET_H
#define FR_CONTROL_SOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/un.h>

struct fr_ctl_socket {
	int listen_fd; /* -1 until bound */
	int lock_fd;   /* <path>.lock, held (flock) for the socket's life; -1 until locked */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;     /* the socket file we bound: close unlinks the name only if it still leads here */
	ino_t ino;
};

/* Format one line into err (if err and errlen) and return rc: the server's error reports. */
int fr_ctl_fail(char *err, size_t errlen, int rc, const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* With k->path set and both fds -1: make the parent, take the lock (-EADDRINUSE, err naming the pid
 * that holds the socket, when another daemon has it), refuse a path that exists and is not a socket
 * (-EEXIST), unlink a stale socket, bind, chmod 0660, chown to group if group_set, listen.
 * Returns 0 or a negative errno with one line in err; fds opened so far stay in k for the close
 * functions. */
int fr_ctl_socket_open(struct fr_ctl_socket *k, bool group_set, gid_t group, char *err, size_t errlen);

/* Close the listening socket and unlink its file if the name still leads to it. No-op if not bound. */
void fr_ctl_socket_close_listener(struct fr_ctl_socket *k);

/* Remove the lock file while still holding it, then release it. Call after the listener is closed.
 * No-op if not locked. */
void fr_ctl_socket_unlock(struct fr_ctl_socket *k);

#endif /* FR_CONTROL_SOCKET_H */
