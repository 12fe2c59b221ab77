/*
 * rouse's fault injector: an LD_PRELOAD library that makes the system calls
 * a readiness layer depends on fail now and then, with errnos those calls
 * really return, and counts what it did.
 *
 *   gcc -shared -fPIC -O2 -o inject.so ci/inject/inject.c -ldl
 *   LD_PRELOAD=./inject.so ROUSE_FAULT_RATE=0.01 ./server
 *
 * ci/faults builds it and runs the examples and tests/faults.rs under it.
 * See ci/inject/README.md for the environment variables and the test API.
 *
 * A faulted call does not reach the kernel: it returns -1 with errno set and
 * changes nothing, which is what the real call does when it fails for lack
 * of memory, descriptors or buffer space, or is interrupted. Only calls the
 * program makes through the C library's dynamic symbols are seen; the C
 * library's own internal calls are not.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* ---- what can be faulted ------------------------------------------------ */

enum call {
    C_EPOLL_CREATE1,
    C_EPOLL_CTL,
    C_EPOLL_WAIT,
    C_POLL,
    C_EVENTFD,
    C_ACCEPT4,
    C_ACCEPT,
    C_RECV,
    C_SEND,
    C_READ,
    C_WRITE,
    C_READV,
    C_WRITEV,
    C_FCNTL,
    C_SOCKET,
    C_SOCKETPAIR,
    C_DUP,
    N_CALLS
};

static const char *const call_names[N_CALLS] = {
    "epoll_create1", "epoll_ctl", "epoll_wait", "poll",   "eventfd",
    "accept4",       "accept",    "recv",       "send",   "read",
    "write",         "readv",     "writev",     "fcntl",  "socket",
    "socketpair",    "dup",
};

/* The errnos it can inject, as bits of a mask. */
enum { E_EINTR, E_EAGAIN, E_ENOMEM, E_EMFILE, E_ENFILE, E_ENOBUFS, E_ENOSPC, E_ECONNABORTED, N_ERRNOS };

static const int errno_values[N_ERRNOS] = {
    EINTR, EAGAIN, ENOMEM, EMFILE, ENFILE, ENOBUFS, ENOSPC, ECONNABORTED,
};
static const char *const errno_names[N_ERRNOS] = {
    "EINTR", "EAGAIN", "ENOMEM", "EMFILE", "ENFILE", "ENOBUFS", "ENOSPC", "ECONNABORTED",
};

#define B(e) (1u << (e))

/* The errnos each call can return for a valid call on a valid descriptor
 * (the man pages' lists, without EBADF, EFAULT, EINVAL and the like, which
 * would say the program is wrong when it is not). EINTR only where the
 * call can wait: see blocking_only. */
#define M_ACCEPT (B(E_EINTR) | B(E_ECONNABORTED) | B(E_EMFILE) | B(E_ENFILE) | B(E_ENOBUFS) | B(E_ENOMEM))
#define M_NEWFD (B(E_EMFILE) | B(E_ENFILE) | B(E_ENOMEM))
#define M_RECV (B(E_EINTR) | B(E_ENOMEM))
#define M_SEND (B(E_EINTR) | B(E_ENOMEM) | B(E_ENOBUFS))

/* ---- configuration (environment, read once) ----------------------------- */

static uint64_t seed = 1;
static uint32_t rate_ppm;          /* faults per million eligible calls */
static unsigned call_filter = ~0u; /* bit per enum call */
static unsigned errno_filter = ~0u;
static unsigned long start_after;  /* eligible calls before the first fault */
static const char *switch_path;    /* faults only while this file exists */
static const char *report_path;    /* counts written here at exit */
static int report_fd = -1;         /* opened at start: a process out of
                                      descriptors can still report */
static int socket_eagain;          /* spurious EAGAIN on socket reads/writes */
static atomic_int global_on = 1;

/* ---- counters ---------------------------------------------------------- */

static atomic_ulong calls[N_CALLS];
static atomic_ulong injected[N_CALLS][N_ERRNOS];
static atomic_ulong eligible_total;
static atomic_ulong draws;
static atomic_int forced_errno[N_CALLS];
static atomic_uint forced_left[N_CALLS];

/* The calling thread's own rate, or -1 to follow the process's. */
static __thread int64_t thread_rate_ppm = -1;
static __thread unsigned long thread_injected;
static __thread int thread_last_errno;

/* ---- what each fd is, for read/write ------------------------------------ */

enum { K_NONE, K_SOCKET, K_EVENTFD };
#define MAX_TRACKED 65536
static _Atomic unsigned char kinds[MAX_TRACKED];

static void set_kind(int fd, int kind) {
    if (fd >= 0 && fd < MAX_TRACKED)
        atomic_store(&kinds[fd], (unsigned char)kind);
}

static int kind_of(int fd) {
    return fd >= 0 && fd < MAX_TRACKED ? atomic_load(&kinds[fd]) : K_NONE;
}

/* ---- the real functions ------------------------------------------------- */

/* `real_NAME`: the next definition of NAME (the C library's), looked up
 * on first use. */
#define REAL(name)                                                 \
    static __typeof__(name) *real_##name;                          \
    if (!real_##name)                                              \
        real_##name = (__typeof__(name) *)dlsym(RTLD_NEXT, #name);

/* ---- deciding ----------------------------------------------------------- */

static uint64_t splitmix(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

/* Whether the switch file exists, looked at no more than every 10 ms. */
static int switch_on(void) {
    static atomic_long next_check_ms;
    static atomic_int on;
    if (!switch_path)
        return 1;
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    long now = ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    if (now >= atomic_load(&next_check_ms)) {
        atomic_store(&next_check_ms, now + 10);
        atomic_store(&on, syscall(SYS_faccessat, AT_FDCWD, switch_path, F_OK, 0) == 0);
    }
    return atomic_load(&on);
}

static int record(enum call c, int e) {
    atomic_fetch_add(&injected[c][e], 1);
    thread_injected++;
    thread_last_errno = errno_values[e];
    errno = errno_values[e];
    return -1;
}

static int errno_index(int value) {
    for (int e = 0; e < N_ERRNOS; e++)
        if (errno_values[e] == value)
            return e;
    return -1;
}

/* -1 with errno set if this call is to fail, 0 if it is to go ahead.
 * `mask` is the errnos this call can return here (0: not eligible). */
static int fault(enum call c, unsigned mask) {
    if (!mask)
        return 0;
    atomic_fetch_add(&calls[c], 1);
    unsigned long n = atomic_fetch_add(&eligible_total, 1);

    unsigned left = atomic_load(&forced_left[c]);
    while (left > 0) {
        if (atomic_compare_exchange_weak(&forced_left[c], &left, left - 1)) {
            int e = errno_index(atomic_load(&forced_errno[c]));
            if (e >= 0)
                return record(c, e);
            break;
        }
    }

    uint32_t rate = thread_rate_ppm >= 0 ? (uint32_t)thread_rate_ppm : rate_ppm;
    if (rate == 0 || !atomic_load(&global_on) || n < start_after)
        return 0;
    if (!(call_filter & (1u << c)))
        return 0;
    mask &= errno_filter;
    if (!mask || !switch_on())
        return 0;
    uint64_t r = splitmix(seed ^ splitmix(atomic_fetch_add(&draws, 1)));
    if (r % 1000000 >= rate)
        return 0;
    int choices = __builtin_popcount(mask);
    int pick = (int)((r >> 32) % (uint64_t)choices);
    for (int e = 0; e < N_ERRNOS; e++) {
        if (mask & B(e)) {
            if (pick-- == 0)
                return record(c, e);
        }
    }
    return 0;
}

/* `mask` without EINTR if `fd` does not block (O_NONBLOCK, or
 * MSG_DONTWAIT in `msg_flags`): a call that does not wait is not
 * interrupted (Linux returns EAGAIN at once instead). */
static unsigned blocking_only(int fd, int msg_flags, unsigned mask) {
    if (!(mask & B(E_EINTR)))
        return mask;
    if (msg_flags & MSG_DONTWAIT)
        return mask & ~B(E_EINTR);
    long fl = syscall(SYS_fcntl, fd, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK))
        return mask & ~B(E_EINTR);
    return mask;
}

static unsigned rw_mask(int fd, int is_read) {
    switch (kind_of(fd)) {
    case K_SOCKET:
        return blocking_only(fd, 0, (is_read ? M_RECV : M_SEND) | (socket_eagain ? B(E_EAGAIN) : 0));
    case K_EVENTFD:
        /* A full counter on write, an empty one on read. */
        return B(E_EAGAIN);
    default:
        return 0;
    }
}

/* ---- the wrappers ------------------------------------------------------- */

int epoll_create1(int flags) {
    REAL(epoll_create1);
    if (fault(C_EPOLL_CREATE1, M_NEWFD))
        return -1;
    return real_epoll_create1(flags);
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event) {
    REAL(epoll_ctl);
    /* ADD allocates (ENOMEM) and counts against max_user_watches (ENOSPC);
     * MOD may report ENOMEM; DEL frees and does not fail for lack of
     * anything. */
    unsigned mask = op == EPOLL_CTL_ADD ? B(E_ENOMEM) | B(E_ENOSPC)
                    : op == EPOLL_CTL_MOD ? B(E_ENOMEM)
                                          : 0;
    if (fault(C_EPOLL_CTL, mask))
        return -1;
    return real_epoll_ctl(epfd, op, fd, event);
}

int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout) {
    REAL(epoll_wait);
    if (fault(C_EPOLL_WAIT, B(E_EINTR)))
        return -1;
    return real_epoll_wait(epfd, events, maxevents, timeout);
}

int poll(struct pollfd *fds, nfds_t nfds, int timeout) {
    REAL(poll);
    if (fault(C_POLL, B(E_EINTR) | B(E_ENOMEM)))
        return -1;
    return real_poll(fds, nfds, timeout);
}

int eventfd(unsigned int initval, int flags) {
    REAL(eventfd);
    if (fault(C_EVENTFD, M_NEWFD))
        return -1;
    int fd = real_eventfd(initval, flags);
    set_kind(fd, K_EVENTFD);
    return fd;
}

int accept4(int fd, struct sockaddr *addr, socklen_t *len, int flags) {
    REAL(accept4);
    if (fault(C_ACCEPT4, blocking_only(fd, 0, M_ACCEPT)))
        return -1;
    int s = real_accept4(fd, addr, len, flags);
    set_kind(s, K_SOCKET);
    return s;
}

int accept(int fd, struct sockaddr *addr, socklen_t *len) {
    REAL(accept);
    if (fault(C_ACCEPT, blocking_only(fd, 0, M_ACCEPT)))
        return -1;
    int s = real_accept(fd, addr, len);
    set_kind(s, K_SOCKET);
    return s;
}

ssize_t recv(int fd, void *buf, size_t len, int flags) {
    REAL(recv);
    if (fault(C_RECV, blocking_only(fd, flags, M_RECV | (socket_eagain ? B(E_EAGAIN) : 0))))
        return -1;
    return real_recv(fd, buf, len, flags);
}

ssize_t send(int fd, const void *buf, size_t len, int flags) {
    REAL(send);
    if (fault(C_SEND, blocking_only(fd, flags, M_SEND | (socket_eagain ? B(E_EAGAIN) : 0))))
        return -1;
    return real_send(fd, buf, len, flags);
}

ssize_t read(int fd, void *buf, size_t len) {
    REAL(read);
    if (fault(C_READ, rw_mask(fd, 1)))
        return -1;
    return real_read(fd, buf, len);
}

ssize_t write(int fd, const void *buf, size_t len) {
    REAL(write);
    if (fault(C_WRITE, rw_mask(fd, 0)))
        return -1;
    return real_write(fd, buf, len);
}

ssize_t readv(int fd, const struct iovec *iov, int count) {
    REAL(readv);
    if (fault(C_READV, rw_mask(fd, 1)))
        return -1;
    return real_readv(fd, iov, count);
}

ssize_t writev(int fd, const struct iovec *iov, int count) {
    REAL(writev);
    if (fault(C_WRITEV, rw_mask(fd, 0)))
        return -1;
    return real_writev(fd, iov, count);
}

/* fcntl's third argument is an int or a pointer, or absent; it is passed
 * on as a pointer-sized value, as the C library's own wrapper reads it. */
static int do_fcntl(int (*real)(int, int, ...), int fd, int cmd, void *arg) {
    int dup = cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC;
    if (fault(C_FCNTL, dup ? B(E_EMFILE) : 0))
        return -1;
    int ret = real(fd, cmd, arg);
    if (dup)
        set_kind(ret, kind_of(fd));
    return ret;
}

int fcntl(int fd, int cmd, ...) {
    REAL(fcntl);
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return do_fcntl(real_fcntl, fd, cmd, arg);
}

int fcntl64(int fd, int cmd, ...) {
    REAL(fcntl64);
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return do_fcntl(real_fcntl64, fd, cmd, arg);
}

int socket(int domain, int type, int protocol) {
    REAL(socket);
    if (fault(C_SOCKET, M_NEWFD | B(E_ENOBUFS)))
        return -1;
    int s = real_socket(domain, type, protocol);
    set_kind(s, K_SOCKET);
    return s;
}

int socketpair(int domain, int type, int protocol, int sv[2]) {
    REAL(socketpair);
    if (fault(C_SOCKETPAIR, B(E_EMFILE) | B(E_ENFILE)))
        return -1;
    int ret = real_socketpair(domain, type, protocol, sv);
    if (ret == 0) {
        set_kind(sv[0], K_SOCKET);
        set_kind(sv[1], K_SOCKET);
    }
    return ret;
}

int dup(int fd) {
    REAL(dup);
    if (fault(C_DUP, B(E_EMFILE)))
        return -1;
    int ret = real_dup(fd);
    set_kind(ret, kind_of(fd));
    return ret;
}

int close(int fd) {
    REAL(close);
    set_kind(fd, K_NONE);
    return real_close(fd);
}

/* ---- the API for tests (found with dlsym) ------------------------------- */

/* Turns random faults on or off for the whole process. */
void rouse_fault_enable(int on) { atomic_store(&global_on, on); }

static uint32_t to_ppm(double rate) {
    if (rate < 0)
        rate = 0;
    if (rate > 1)
        rate = 1;
    return (uint32_t)(rate * 1000000.0 + 0.5);
}

/* Sets the random fault rate (0 to 1) of every thread that has no rate
 * of its own. */
void rouse_fault_set_rate(double rate) { rate_ppm = to_ppm(rate); }

/* Sets the calling thread's own rate (0 to 1; 0 turns its random faults
 * off); a negative rate makes it follow the process's again. */
void rouse_fault_thread_rate(double rate) {
    thread_rate_ppm = rate < 0 ? -1 : (int64_t)to_ppm(rate);
}

/* Makes the next `count` eligible calls of `call` fail with `err`,
 * whatever the rate, switch and thread settings. Returns 0, or -1 if the
 * call or the errno is not one this library knows. */
int rouse_fault_force(const char *call, int err, unsigned count) {
    if (errno_index(err) < 0)
        return -1;
    for (int c = 0; c < N_CALLS; c++) {
        if (strcmp(call, call_names[c]) == 0) {
            atomic_store(&forced_errno[c], err);
            atomic_store(&forced_left[c], count);
            return 0;
        }
    }
    return -1;
}

/* Faults injected on the calling thread so far, and the last one's errno. */
unsigned long rouse_fault_thread_injected(void) { return thread_injected; }
int rouse_fault_thread_last_errno(void) { return thread_last_errno; }

/* Eligible calls of `call` seen so far (all threads), or 0 if unknown. */
unsigned long rouse_fault_calls(const char *call) {
    for (int c = 0; c < N_CALLS; c++)
        if (strcmp(call, call_names[c]) == 0)
            return atomic_load(&calls[c]);
    return 0;
}

/* Faults injected so far (all threads, all calls). */
unsigned long rouse_fault_injected(void) {
    unsigned long total = 0;
    for (int c = 0; c < N_CALLS; c++)
        for (int e = 0; e < N_ERRNOS; e++)
            total += atomic_load(&injected[c][e]);
    return total;
}

/* ---- the report --------------------------------------------------------- */

/* Appends text to a fixed buffer without the C library's formatting, so
 * the report can be written from a signal handler. */
struct out {
    char buf[8192];
    size_t len;
};

static void put(struct out *o, const char *s) {
    while (*s && o->len < sizeof o->buf)
        o->buf[o->len++] = *s++;
}

static void put_num(struct out *o, unsigned long n) {
    char digits[24];
    int i = 0;
    do {
        digits[i++] = (char)('0' + n % 10);
        n /= 10;
    } while (n);
    while (i > 0 && o->len < sizeof o->buf)
        o->buf[o->len++] = digits[--i];
}

static atomic_int reported;

/* One line per call that was seen: `fault CALL calls=N injected=N
 * ERRNO=N...`, then `fault total ...`. */
static void write_report(void) {
    if (!report_path || atomic_exchange(&reported, 1))
        return;
    struct out o = {.len = 0};
    unsigned long all_calls = 0, all_injected = 0;
    for (int c = 0; c < N_CALLS; c++) {
        unsigned long n = atomic_load(&calls[c]);
        if (!n)
            continue;
        unsigned long inj = 0;
        for (int e = 0; e < N_ERRNOS; e++)
            inj += atomic_load(&injected[c][e]);
        all_calls += n;
        all_injected += inj;
        put(&o, "fault ");
        put(&o, call_names[c]);
        put(&o, " calls=");
        put_num(&o, n);
        put(&o, " injected=");
        put_num(&o, inj);
        for (int e = 0; e < N_ERRNOS; e++) {
            unsigned long k = atomic_load(&injected[c][e]);
            if (k) {
                put(&o, " ");
                put(&o, errno_names[e]);
                put(&o, "=");
                put_num(&o, k);
            }
        }
        put(&o, "\n");
    }
    put(&o, "fault total calls=");
    put_num(&o, all_calls);
    put(&o, " injected=");
    put_num(&o, all_injected);
    put(&o, " pid=");
    put_num(&o, (unsigned long)syscall(SYS_getpid));
    put(&o, "\n");
    if (report_fd >= 0)
        syscall(SYS_write, report_fd, o.buf, o.len);
}

static void on_term(int sig) {
    write_report();
    /* SA_RESETHAND restored the default action; SA_NODEFER lets it in. */
    raise(sig);
}

__attribute__((destructor)) static void at_exit_report(void) { write_report(); }

/* ---- setup -------------------------------------------------------------- */

static unsigned parse_list(const char *text, const char *const *names, int n) {
    unsigned mask = 0;
    const char *p = text;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        for (int i = 0; i < n; i++)
            if (strlen(names[i]) == len && strncmp(p, names[i], len) == 0)
                mask |= 1u << i;
        if (!end)
            break;
        p = end + 1;
    }
    return mask;
}

__attribute__((constructor)) static void setup(void) {
    const char *v;
    if ((v = getenv("ROUSE_FAULT_SEED")))
        seed = strtoull(v, NULL, 0);
    if ((v = getenv("ROUSE_FAULT_RATE")))
        rate_ppm = to_ppm(strtod(v, NULL));
    if ((v = getenv("ROUSE_FAULT_CALLS")) && *v)
        call_filter = parse_list(v, call_names, N_CALLS);
    if ((v = getenv("ROUSE_FAULT_ERRNOS")) && *v)
        errno_filter = parse_list(v, errno_names, N_ERRNOS);
    if ((v = getenv("ROUSE_FAULT_AFTER")))
        start_after = strtoul(v, NULL, 0);
    if ((v = getenv("ROUSE_FAULT_SWITCH")) && *v)
        switch_path = v;
    if ((v = getenv("ROUSE_FAULT_SOCKET_EAGAIN")))
        socket_eagain = atoi(v) != 0;
    if ((v = getenv("ROUSE_FAULT_REPORT")) && *v) {
        report_path = v;
        /* Opened now, while descriptors are left, and moved out of the way
         * of the low numbers where the limit allows. */
        report_fd = (int)syscall(SYS_openat, AT_FDCWD, v, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (report_fd >= 0) {
            int high = (int)syscall(SYS_fcntl, report_fd, F_DUPFD_CLOEXEC, 900);
            if (high >= 0) {
                syscall(SYS_close, report_fd);
                report_fd = high;
            }
        }
        /* A server stopped with SIGTERM runs no destructors: report then,
         * unless the program handles SIGTERM itself. */
        struct sigaction old;
        if (sigaction(SIGTERM, NULL, &old) == 0 && old.sa_handler == SIG_DFL) {
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = on_term;
            sa.sa_flags = SA_RESETHAND | SA_NODEFER;
            sigaction(SIGTERM, &sa, NULL);
        }
    }
}
