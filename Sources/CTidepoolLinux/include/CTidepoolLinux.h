#ifndef TIDEPOOL_LINUX_H
#define TIDEPOOL_LINUX_H
/// Linux calls that Swift cannot import directly (macros, variadics, CMSG arithmetic).
/// Every function returns -1 and leaves errno set on failure, like the call it wraps.
#include <sys/types.h>
#include <stdint.h>
#include <time.h>

/// prctl(PR_SET_PDEATHSIG, sig): the kernel sends `sig` to this process when its parent thread dies.
int tp_set_parent_death_signal(int sig);

/// Sends `len` bytes plus one file descriptor over a unix socket (SCM_RIGHTS).
ssize_t tp_send_with_fd(int socket, const void *buf, size_t len, int fd);

/// Receives up to `len` bytes and at most one passed descriptor, stored in *received_fd (-1 when none).
ssize_t tp_recv_with_fd(int socket, void *buf, size_t len, int *received_fd);

/// The calling thread's CPU time in nanoseconds (CLOCK_THREAD_CPUTIME_ID).
uint64_t tp_thread_cpu_nanos(void);

/// The calling thread's kernel thread id (gettid), for `tp_thread_runnable`.
pid_t tp_thread_id(void);

/// The time of `clock` in nanoseconds (e.g. another thread's CPU clock from
/// pthread_getcpuclockid); 0 if it cannot be read.
uint64_t tp_clock_nanos(clockid_t clock);

/// 1 if thread `tid` of this process is running or waiting for a CPU (state R
/// in /proc/self/task/TID/stat), 0 if it sleeps (blocked in a call or on a
/// lock), -1 if the state cannot be read.
int tp_thread_runnable(pid_t tid);

/// A monotonic clock in nanoseconds (CLOCK_MONOTONIC).
uint64_t tp_monotonic_nanos(void);

/// prctl(PR_SET_CHILD_SUBREAPER, 1): orphaned descendants (instances whose
/// template died) are re-parented to this process, so it can reap and kill them.
int tp_set_child_subreaper(void);

/// socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC): a connected channel pair
/// that no child inherits unless it is passed on explicitly.
int tp_socketpair_cloexec(int fds[2]);

/// posix_spawn `path` with `argv` (NULL-terminated) and the current environment,
/// with `channel_fd` as the child's fd 3 (close-on-exec cleared there, even when
/// `channel_fd` already is 3), the host's handled and ignored signals back to their
/// defaults, an empty signal mask, and the child in a new process group (so a
/// terminal's Ctrl-C reaches only the host, which then stops children in order).
/// Returns the child's pid, or -1 with errno set.
pid_t tp_spawn_with_channel(const char *path, char *const argv[], int channel_fd);

/// posix_spawn `path` with `argv` and `envp` (both NULL-terminated) in
/// `directory` (NULL: ours), stdin from /dev/null and stdout and stderr both
/// to `output_fd`, no other descriptor, signals and process group as
/// `tp_spawn_with_channel`. For helpers whose output we keep (pip, the
/// build command). Returns the child's pid, or -1 with errno set.
pid_t tp_spawn_captured(const char *path, char *const argv[], char *const envp[], const char *directory,
                        int output_fd);

/// Waits for child `pid` (through EINTR): its exit status, 128 + the signal
/// that ended it (as a shell reports it), or -1 if it cannot be waited for.
int tp_wait_exit_code(pid_t pid);

/// pipe2(fds, O_CLOEXEC): a blocking pipe no child inherits unless passed on.
int tp_pipe_cloexec(int fds[2]);

/// pipe2(fds, O_CLOEXEC | O_NONBLOCK): a pipe no child inherits, for the event loop.
int tp_pipe_cloexec_nonblock(int fds[2]);

/// timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK): a timer another
/// thread can arm without waking the one that polls it.
int tp_timer_create(void);
/// Arms timer `fd` (from tp_timer_create) to fire once, `nanos` from now.
int tp_timer_arm(int fd, uint64_t nanos);

/// The process groups of the project's helper children (pip, the build
/// command: each leads a group of its own, so a terminal's Ctrl-C does not
/// reach it). Up to 32 at once; returns 0, or -1 when the table is full.
int tp_helper_group_add(pid_t group);
void tp_helper_group_remove(pid_t group);
/// Sends `sig` to every tracked helper group; returns how many there were.
int tp_helper_groups_signal(int sig);
/// Until the host's event loop takes over these signals: SIGINT, SIGTERM or
/// SIGHUP first goes to every tracked helper group, then ends this process as
/// it would have without the handler (default action, re-raised).
void tp_forward_stop_signals_to_helpers(void);

/// Drops every supplementary group, then sets the group and user ids
/// (setgroups([]), setgid, setuid, in that order: after setuid the others are
/// no longer allowed). Returns 0, or -1 with errno set.
int tp_become_user(uid_t uid, gid_t gid);

/// Checks, as user `uid`/`gid` with no supplementary groups, that each of the
/// `count` directories in `paths` can be listed and entered (R_OK | X_OK),
/// in a short-lived forked child so the caller keeps its identity. Returns -1
/// when all are accessible, else the index of the first that is not, with its
/// errno in *error (or the fork/setuid errno with index `count`).
int tp_access_as(uid_t uid, gid_t gid, const char *const paths[], int count, int *error);

/// setrlimit(resource, {soft, hard}); when raising the hard limit is not
/// allowed (unprivileged), the soft limit is set to min(soft, current hard)
/// instead. Returns 0, or -1 with errno set.
int tp_set_limit(int resource, uint64_t value);

#endif
