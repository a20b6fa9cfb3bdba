#define _GNU_SOURCE
#include "CTidepoolLinux.h"
#include <sys/prctl.h>
#include <sys/socket.h>
#include <string.h>
#include <time.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <grp.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <sys/timerfd.h>

extern char **environ;

int tp_set_parent_death_signal(int sig) {
    return prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0);
}

int tp_set_child_subreaper(void) {
    return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
}

ssize_t tp_send_with_fd(int socket, const void *buf, size_t len, int fd) {
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
    memset(&control, 0, sizeof(control));
    struct msghdr msg = { 0 };
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof(control.buf);
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    ssize_t n;
    do { n = sendmsg(socket, &msg, MSG_NOSIGNAL); } while (n < 0 && errno == EINTR);
    return n;
}

ssize_t tp_recv_with_fd(int socket, void *buf, size_t len, int *received_fd) {
    *received_fd = -1;
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    union { char buf[CMSG_SPACE(sizeof(int))]; struct cmsghdr align; } control;
    struct msghdr msg = { 0 };
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof(control.buf);
    ssize_t n;
    do { n = recvmsg(socket, &msg, MSG_CMSG_CLOEXEC); } while (n < 0 && errno == EINTR);
    if (n < 0) return n;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
            memcpy(received_fd, CMSG_DATA(c), sizeof(int));
        }
    }
    return n;
}

uint64_t tp_thread_cpu_nanos(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

pid_t tp_thread_id(void) {
    return (pid_t)syscall(SYS_gettid);
}

uint64_t tp_clock_nanos(clockid_t clock) {
    struct timespec ts;
    if (clock_gettime(clock, &ts) != 0) return 0;
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int tp_thread_runnable(pid_t tid) {
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0) return -1;
    buf[n] = 0;
    /* "tid (comm) S ...": comm may hold spaces and parentheses, so the state
       follows the last ')'. */
    char *end = strrchr(buf, ')');
    if (!end || end[1] != ' ') return -1;
    return end[2] == 'R' ? 1 : 0;
}

uint64_t tp_monotonic_nanos(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int tp_socketpair_cloexec(int fds[2]) {
    return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds);
}

/* Spawns `path` in a new process group with the host's handled and ignored
   signals back to their defaults and an empty signal mask; `actions` says
   what the child's descriptors are. Returns the pid, or -1 with errno set. */
static pid_t spawn_in_own_group(const char *path, char *const argv[], char *const envp[],
                                posix_spawn_file_actions_t *actions) {
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    sigset_t defaults, mask;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    sigaddset(&defaults, SIGINT);
    sigaddset(&defaults, SIGTERM);
    sigaddset(&defaults, SIGCHLD);
    sigaddset(&defaults, SIGHUP);
    sigemptyset(&mask);
    posix_spawnattr_setsigdefault(&attributes, &defaults);
    posix_spawnattr_setsigmask(&attributes, &mask);
    posix_spawnattr_setpgroup(&attributes, 0);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP);
    pid_t pid = -1;
    int error = posix_spawn(&pid, path, actions, &attributes, argv, envp);
    posix_spawnattr_destroy(&attributes);
    if (error != 0) {
        errno = error;
        return -1;
    }
    return pid;
}

pid_t tp_spawn_with_channel(const char *path, char *const argv[], int channel_fd) {
    /* dup2(3, 3) would leave close-on-exec set: move the channel off fd 3 first. */
    int source = channel_fd;
    int moved = -1;
    if (channel_fd == 3) {
        moved = fcntl(channel_fd, F_DUPFD_CLOEXEC, 4);
        if (moved < 0) return -1;
        source = moved;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, source, 3);
    /* Descriptors the host inherited without close-on-exec must not reach children either. */
    posix_spawn_file_actions_addclosefrom_np(&actions, 4);
    pid_t pid = spawn_in_own_group(path, argv, environ, &actions);
    int saved = errno;
    posix_spawn_file_actions_destroy(&actions);
    if (moved >= 0) close(moved);
    errno = saved;
    return pid;
}

pid_t tp_spawn_captured(const char *path, char *const argv[], char *const envp[], const char *directory,
                        int output_fd) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, output_fd, 1);
    posix_spawn_file_actions_adddup2(&actions, output_fd, 2);
    posix_spawn_file_actions_addclosefrom_np(&actions, 3);
    if (directory != NULL) posix_spawn_file_actions_addchdir_np(&actions, directory);
    pid_t pid = spawn_in_own_group(path, argv, envp, &actions);
    int saved = errno;
    posix_spawn_file_actions_destroy(&actions);
    errno = saved;
    return pid;
}

int tp_wait_exit_code(pid_t pid) {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) return -1;
    }
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
}

int tp_pipe_cloexec(int fds[2]) {
    return pipe2(fds, O_CLOEXEC);
}

int tp_become_user(uid_t uid, gid_t gid) {
    if (setgroups(0, NULL) != 0) return -1;
    if (setgid(gid) != 0) return -1;
    if (setuid(uid) != 0) return -1;
    return 0;
}

int tp_access_as(uid_t uid, gid_t gid, const char *const paths[], int count, int *error) {
    int pipefd[2];
    *error = 0;
    if (pipe2(pipefd, O_CLOEXEC) != 0) { *error = errno; return count; }
    pid_t pid = fork();
    if (pid < 0) {
        *error = errno;
        close(pipefd[0]);
        close(pipefd[1]);
        return count;
    }
    if (pid == 0) {
        /* Only async-signal-safe calls here: the child of a possibly threaded process. */
        close(pipefd[0]);
        int report[2] = { -1, 0 };
        if (tp_become_user(uid, gid) != 0) {
            report[0] = count;
            report[1] = errno;
        } else {
            for (int i = 0; i < count; i++) {
                if (access(paths[i], R_OK | X_OK) != 0) {
                    report[0] = i;
                    report[1] = errno;
                    break;
                }
            }
        }
        ssize_t ignored = write(pipefd[1], report, sizeof(report));
        (void)ignored;
        _exit(0);
    }
    close(pipefd[1]);
    int report[2] = { count, EIO };
    ssize_t n;
    do { n = read(pipefd[0], report, sizeof(report)); } while (n < 0 && errno == EINTR);
    close(pipefd[0]);
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
    if (n != (ssize_t)sizeof(report)) { *error = EIO; return count; }
    *error = report[1];
    return report[0];
}

int tp_set_limit(int resource, uint64_t value) {
    struct rlimit limit = { .rlim_cur = (rlim_t)value, .rlim_max = (rlim_t)value };
    if (setrlimit(resource, &limit) == 0) return 0;
    if (errno != EPERM) return -1;
    struct rlimit current;
    if (getrlimit(resource, &current) != 0) return -1;
    limit.rlim_max = current.rlim_max;
    limit.rlim_cur = (rlim_t)value < current.rlim_max ? (rlim_t)value : current.rlim_max;
    return setrlimit(resource, &limit);
}

/* The helper groups. Written from normal context, read from the signal
   handler: each slot is one sig_atomic_t store, 0 when free. */
#define TP_HELPER_GROUPS 32
static volatile sig_atomic_t helper_groups[TP_HELPER_GROUPS];

int tp_helper_group_add(pid_t group) {
    for (int i = 0; i < TP_HELPER_GROUPS; i++) {
        if (helper_groups[i] == 0) {
            helper_groups[i] = group;
            return 0;
        }
    }
    errno = ENOSPC;
    return -1;
}

void tp_helper_group_remove(pid_t group) {
    for (int i = 0; i < TP_HELPER_GROUPS; i++) {
        if (helper_groups[i] == group) helper_groups[i] = 0;
    }
}

int tp_helper_groups_signal(int sig) {
    int count = 0;
    for (int i = 0; i < TP_HELPER_GROUPS; i++) {
        pid_t group = helper_groups[i];
        if (group > 0 && (kill(-group, sig) == 0 || kill(group, sig) == 0)) count++;
    }
    return count;
}

static void forward_stop_signal(int sig) {
    int saved = errno;
    tp_helper_groups_signal(SIGTERM);
    signal(sig, SIG_DFL);
    raise(sig);
    errno = saved;
}

void tp_forward_stop_signals_to_helpers(void) {
    int signals[] = { SIGINT, SIGTERM, SIGHUP };
    for (int i = 0; i < 3; i++) {
        struct sigaction current;
        /* One the parent set to ignore (nohup, a background job) stays ignored. */
        if (sigaction(signals[i], NULL, &current) == 0 && current.sa_handler == SIG_IGN) continue;
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_handler = forward_stop_signal;
        sigemptyset(&action.sa_mask);
        sigaction(signals[i], &action, NULL);
    }
}

int tp_pipe_cloexec_nonblock(int fds[2]) {
    return pipe2(fds, O_CLOEXEC | O_NONBLOCK);
}

int tp_timer_create(void) {
    return timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
}

int tp_timer_arm(int fd, uint64_t nanos) {
    struct itimerspec spec = { .it_interval = { 0, 0 },
                               .it_value = { (time_t)(nanos / 1000000000u), (long)(nanos % 1000000000u) } };
    return timerfd_settime(fd, 0, &spec, NULL);
}
