// vitals — per-CPU word updates: the hot path under every counter and histogram.
//
// Why per CPU: a shared atomic costs a locked instruction per update and bounces its cache line
// between cores; per-thread copies cost memory and render time per thread. A word per CPU costs
// neither: on Linux a restartable sequence (rseq, registered for every thread by glibc >= 2.35)
// adds to the current CPU's word with plain instructions, and the kernel restarts the sequence if
// the thread is preempted, migrated or signalled before its single committing store.
//
// A series' words exist once per *stripe*. Stripes [0, rseq_stripes) belong to CPUs and are only
// ever written by an rseq sequence running on that CPU; the stripes after them are written only
// with atomic read-modify-writes. A writer that cannot run a sequence (no rseq in this process or
// on this architecture, ThreadSanitizer builds, a CPU number past the series' stripes, a thread
// whose sequence keeps being interrupted) falls back to an atomic update on an atomic stripe, so
// every path is exact and the two kinds of writer never share a word. Which layout a series has
// is recorded in the series itself (cell_ref), never in a process-wide variable: two copies of
// this code in one process (a plugin built with hidden visibility) agree on every series.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <sched.h>

#include "../base/config.hpp"
#include "atomic.hpp"

#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

#if defined(__SANITIZE_THREAD__)
#define VITALS_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define VITALS_TSAN 1
#endif
#endif

// The rseq fast path: x86-64 Linux with GCC or Clang, and not under ThreadSanitizer (it cannot
// see stores made by inline assembly, and would then report the readers' loads as races).
#if defined(__linux__) && defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && !defined(VITALS_TSAN) && \
    !defined(VITALS_NO_RSEQ)
#define VITALS_HAVE_RSEQ 1
#else
#define VITALS_HAVE_RSEQ 0
#endif

#if VITALS_HAVE_RSEQ
// glibc >= 2.35 exports where its rseq area sits relative to the thread pointer. Weak: on an
// older glibc both are absent (null) and the atomic stripes are used.
extern "C" {
extern const std::ptrdiff_t __rseq_offset __attribute__((weak));
extern const unsigned int __rseq_size __attribute__((weak));
}
#endif

namespace vitals::detail {

/// One 64-bit word of a series; doubles are stored by their bit pattern.
using cell_word = detail::atomic<std::uint64_t>;

inline double word_to_double(std::uint64_t w) noexcept {
    double d;
    std::memcpy(&d, &w, sizeof d);
    return d;
}
inline std::uint64_t double_to_word(double d) noexcept {
    std::uint64_t w;
    std::memcpy(&w, &d, sizeof w);
    return w;
}

/// Words per stripe of one pool chunk: the distance between a slot's copies in two stripes. A
/// slot never crosses a chunk, so a series finds its word on any stripe with one multiply-add.
inline constexpr std::uint32_t chunk_words = 2048;
/// The most words one series may use (a histogram uses buckets + 2).
inline constexpr std::uint32_t max_slot_words = 1024;

/// Where a series' words are: stripe s's copy of word i is `base[s * chunk_words + i]`.
struct cell_ref {
    cell_word* base = nullptr;
    std::uint32_t rseq_stripes = 0;    ///< stripes written by rseq sequences, one per CPU
    std::uint32_t atomic_stripes = 0;  ///< stripes written with atomic read-modify-writes
    [[nodiscard]] std::uint32_t stripes() const noexcept { return rseq_stripes + atomic_stripes; }
    [[nodiscard]] cell_word* word(std::uint32_t stripe, std::uint32_t i) const noexcept {
        return base + static_cast<std::size_t>(stripe) * chunk_words + i;
    }
};

/// How new series lay out their stripes in this process, decided once.
struct percpu_layout {
    std::uint32_t cpus = 1;          ///< CPU numbers the kernel may report: [0, cpus)
    bool rseq = false;               ///< rseq sequences work here
    std::uint32_t rseq_stripes = 0;  ///< what a new series gets
    std::uint32_t atomic_stripes = 1;
};

/// One more than the highest CPU number this process may run on: the CPUs of its affinity mask
/// (a container's cpuset), else every configured CPU. A thread later moved to a higher-numbered
/// CPU takes the atomic stripe: correct, only slower.
inline std::uint32_t possible_cpus() noexcept {
#if defined(__linux__)
    long n = sysconf(_SC_NPROCESSORS_CONF);
    if (n <= 0 || n > 4096) n = 1;
#if defined(CPU_COUNT)
    cpu_set_t allowed;
    CPU_ZERO(&allowed);
    if (sched_getaffinity(0, sizeof allowed, &allowed) == 0) {
        long highest = -1;
        for (long c = 0; c < static_cast<long>(CPU_SETSIZE) && c < n; ++c)
            if (CPU_ISSET(static_cast<int>(c), &allowed)) highest = c;
        if (highest >= 0) n = highest + 1;
    }
#endif
    return static_cast<std::uint32_t>(n);
#else
    return 1;
#endif
}

#if VITALS_HAVE_RSEQ
/// Offset of glibc's rseq area from the thread pointer; 0 until known (or when unusable). Set
/// once per copy of this code (see percpu_layout_now); a zero here only means the slower path.
inline std::ptrdiff_t rseq_area_offset = 0;

inline std::uint32_t rseq_cpu_start(std::ptrdiff_t off) noexcept {
    std::uint32_t cpu;
    asm volatile("movl %%fs:(%1), %0" : "=r"(cpu) : "r"(off));
    return cpu;
}
#endif

/// Whether rseq works for the calling thread: glibc exported its area and registered it.
inline bool rseq_usable() noexcept {
#if VITALS_HAVE_RSEQ
    if (&__rseq_offset == nullptr || &__rseq_size == nullptr || __rseq_size < 20) return false;
    std::int32_t cpu_id;
    asm volatile("movl %%fs:4(%1), %0" : "=r"(cpu_id) : "r"(__rseq_offset));
    return cpu_id >= 0;  // negative: glibc did not (or could not) register the area
#else
    return false;
#endif
}

/// The layout new series get, decided on first use: `VITALS_PERCPU=atomic` in the environment
/// forces the atomic stripes (to test that path, or to rule rseq out).
inline const percpu_layout& percpu_layout_now() noexcept {
    static const percpu_layout layout = [] {
        percpu_layout l;
        l.cpus = possible_cpus();
        const char* forced = std::getenv("VITALS_PERCPU");
        const bool atomic_forced = forced && std::strcmp(forced, "atomic") == 0;
        l.rseq = !atomic_forced && rseq_usable();
        if (l.rseq) {
            l.rseq_stripes = l.cpus;
            l.atomic_stripes = 1;  // for writers that cannot run a sequence
#if VITALS_HAVE_RSEQ
            rseq_area_offset = __rseq_offset;
#endif
        } else {
            l.rseq_stripes = 0;
            l.atomic_stripes = l.cpus;
        }
        return l;
    }();
    return layout;
}

#if VITALS_HAVE_RSEQ && !VITALS_EXTERN_TEMPLATES
/// Decides the layout when this copy of the code is loaded, so that it takes the rseq path for
/// series other copies created, even before it creates one of its own. (Compiled mode: libvitals,
/// linked into the same module, does it once for every file.)
inline const bool percpu_layout_decided = (percpu_layout_now(), true);
#endif

/// The CPU the calling thread runs on (a hint: it may move at once), or 0 when unknown.
inline std::uint32_t current_cpu_hint() noexcept {
#if VITALS_HAVE_RSEQ
    if (const std::ptrdiff_t off = rseq_area_offset) return rseq_cpu_start(off);
#endif
#if defined(__linux__)
    const int c = sched_getcpu();
    return c > 0 ? static_cast<std::uint32_t>(c) : 0;
#else
    return 0;
#endif
}

// --- rseq sequences (x86-64). Each defines its descriptor (struct rseq_cs: version, flags,
// start_ip, post_commit_offset, abort_ip) in section __rseq_cs ("?": in the section group of the
// function it sits in, so that the linker drops it with a discarded inline copy instead of
// keeping a descriptor that points into dropped code), points the thread's rseq area at
// it (offset 8), checks that the thread still runs on `cpu` (cpu_id, offset 4), and commits with
// its last instruction before label 2. The abort handler is preceded by the signature glibc
// registered (0x53053053), as the kernel requires, and jumps to the C++ `abort` label.
#if VITALS_HAVE_RSEQ
#define VITALS_RSEQ_PROLOGUE_TO(abort)    \
    ".pushsection __rseq_cs, \"aw?\"\n\t" \
    ".balign 32\n\t"                      \
    "3:\n\t"                              \
    ".long 0x0, 0x0\n\t"                  \
    ".quad 1f, (2f - 1f), 4f\n\t"         \
    ".popsection\n\t"                     \
    "leaq 3b(%%rip), %%rax\n\t"           \
    "movq %%rax, %%fs:8(%[off])\n\t"      \
    "1:\n\t"                              \
    "cmpl %[cpu], %%fs:4(%[off])\n\t"     \
    "jnz %l[" #abort "]\n\t"
#define VITALS_RSEQ_EPILOGUE_TO(abort)         \
    "2:\n\t"                                   \
    ".pushsection __rseq_failure, \"ax?\"\n\t" \
    ".byte 0x0f, 0xb9, 0x3d\n\t"               \
    ".long 0x53053053\n\t"                     \
    "4:\n\t"                                   \
    "jmp %l[" #abort                           \
    "]\n\t"                                    \
    ".popsection\n\t"
#define VITALS_RSEQ_PROLOGUE VITALS_RSEQ_PROLOGUE_TO(abort)
#define VITALS_RSEQ_EPILOGUE VITALS_RSEQ_EPILOGUE_TO(abort)

/// word += n on `cpu`'s stripe, as one sequence; false when interrupted (nothing written).
inline bool rseq_add(cell_word* w, std::uint64_t n, std::uint32_t cpu, std::ptrdiff_t off) noexcept {
    asm goto(VITALS_RSEQ_PROLOGUE "addq %[n], (%[w])\n\t" VITALS_RSEQ_EPILOGUE
             :
             : [off] "r"(off), [cpu] "r"(cpu), [n] "r"(n), [w] "r"(w)
             : "rax", "memory", "cc"
             : abort);
    return true;
abort:
    return false;
}

/// word += n unless the result would reach 2^63 (or wrap). 1: done; 0: interrupted; -1: would
/// reach it (nothing written).
inline int rseq_add_below_high(cell_word* w, std::uint64_t n, std::uint32_t cpu, std::ptrdiff_t off) noexcept {
    asm goto(VITALS_RSEQ_PROLOGUE
             "movq (%[w]), %%rax\n\t"
             "addq %[n], %%rax\n\t"
             "jc %l[wrap]\n\t"
             "js %l[wrap]\n\t"
             "movq %%rax, (%[w])\n\t" VITALS_RSEQ_EPILOGUE
             :
             : [off] "r"(off), [cpu] "r"(cpu), [n] "r"(n), [w] "r"(w)
             : "rax", "memory", "cc"
             : abort, wrap);
    return 1;
abort:
    return 0;
wrap:
    return -1;
}

/// word += n (the add is the commit). 1: done; 2: done, and the word has reached 2^63, so the
/// caller should move its value out (see percpu_add_spilling); 0: interrupted, nothing written.
inline int rseq_add_high(cell_word* w, std::uint64_t n, std::uint32_t cpu, std::ptrdiff_t off) noexcept {
    asm goto(VITALS_RSEQ_PROLOGUE "addq %[n], (%[w])\n\t" VITALS_RSEQ_EPILOGUE "js %l[high]\n\t"
             :
             : [off] "r"(off), [cpu] "r"(cpu), [n] "er"(n), [w] "r"(w)
             : "rax", "memory", "cc"
             : abort, high);
    return 1;
abort:
    return 0;
high:
    return 2;
}

/// The word's double += d, as one sequence; false when interrupted.
inline bool rseq_add_double(cell_word* w, double d, std::uint32_t cpu, std::ptrdiff_t off) noexcept {
    asm goto(VITALS_RSEQ_PROLOGUE
             "movsd (%[w]), %%xmm15\n\t"
             "addsd %[d], %%xmm15\n\t"
             "movsd %%xmm15, (%[w])\n\t" VITALS_RSEQ_EPILOGUE
             :
             : [off] "r"(off), [cpu] "r"(cpu), [d] "x"(d), [w] "r"(w)
             : "rax", "xmm15", "memory", "cc"
             : abort);
    return true;
abort:
    return false;
}

/// Moves the word's value to *out and leaves zero, as one sequence; false when interrupted.
inline bool rseq_take(cell_word* w, std::uint64_t* out, std::uint32_t cpu, std::ptrdiff_t off) noexcept {
    asm goto(VITALS_RSEQ_PROLOGUE
             "movq (%[w]), %%rax\n\t"
             "movq %%rax, (%[out])\n\t"
             "movq $0, (%[w])\n\t" VITALS_RSEQ_EPILOGUE
             :
             : [off] "r"(off), [cpu] "r"(cpu), [w] "r"(w), [out] "r"(out)
             : "rax", "memory", "cc"
             : abort);
    return true;
abort:
    return false;
}

/// An observation, as two sequences back to back on `cpu`: the double at `sum` += v, then the
/// count at `count` += 1. 2: both done; 1: the sum done, the count not (the thread moved or was
/// interrupted between them: the caller adds the count on its own); 0: nothing written. Two
/// sequences because each may commit only one store; sharing the CPU check and the addresses
/// between them is what makes an observation cheaper than two separate adds.
inline int rseq_observe(cell_word* sum, cell_word* count, double v, std::uint32_t cpu, std::ptrdiff_t off) noexcept {
    asm goto(VITALS_RSEQ_PROLOGUE
             "movsd (%[sum]), %%xmm15\n\t"
             "addsd %[v], %%xmm15\n\t"
             "movsd %%xmm15, (%[sum])\n\t" VITALS_RSEQ_EPILOGUE
             :
             : [off] "r"(off), [cpu] "r"(cpu), [v] "x"(v), [sum] "r"(sum)
             : "rax", "xmm15", "memory", "cc"
             : abort);
    asm goto(VITALS_RSEQ_PROLOGUE_TO(half) "addq $1, (%[count])\n\t" VITALS_RSEQ_EPILOGUE_TO(half)
             :
             : [off] "r"(off), [cpu] "r"(cpu), [count] "r"(count)
             : "rax", "memory", "cc"
             : half);
    return 2;
half:
    return 1;
abort:
    return 0;
}

#undef VITALS_RSEQ_PROLOGUE
#undef VITALS_RSEQ_EPILOGUE
#undef VITALS_RSEQ_PROLOGUE_TO
#undef VITALS_RSEQ_EPILOGUE_TO

/// Attempts before a writer whose sequences keep being interrupted takes the atomic stripe.
inline constexpr int rseq_attempts = 4;
#endif

/// The atomic stripe a writer that cannot (or could not) run a sequence uses.
inline std::uint32_t atomic_stripe(const cell_ref& c) noexcept {
    const std::uint32_t n = c.atomic_stripes ? c.atomic_stripes : 1;
    return c.rseq_stripes + current_cpu_hint() % n;
}

[[gnu::noinline]] inline void add_atomic(const cell_ref& c, std::uint32_t i, std::uint64_t n,
                                         memory_order order) noexcept {
    c.word(atomic_stripe(c), i)->fetch_add(n, order);
}

[[gnu::noinline]] inline void add_double_atomic(const cell_ref& c, std::uint32_t i, double d) noexcept {
    cell_word* w = c.word(atomic_stripe(c), i);
    std::uint64_t old = w->load(detail::memory_order_relaxed);
    while (!w->compare_exchange_weak(old, double_to_word(word_to_double(old) + d), detail::memory_order_relaxed,
                                     detail::memory_order_relaxed)) {}
}

#if VITALS_HAVE_RSEQ
/// Runs `seq(word, cpu, offset)` on the calling CPU's copy of word i, retrying when the kernel
/// interrupted it (seq returned 0). Returns seq's verdict (1: done, -1: it declined), or 0 when no
/// sequence could run here (then an atomic stripe is the caller's way).
template <class Seq>
inline int on_current_cpu(const cell_ref& c, std::uint32_t i, Seq&& seq) noexcept {
    if (const std::ptrdiff_t off = rseq_area_offset) [[likely]] {
        // Copied once: every sequence clobbers memory, which would make the compiler read the
        // cell reference's fields again on each attempt (and, as GCC 12 does, twice on the first).
        const cell_ref here = c;
        for (int attempt = 0; attempt < rseq_attempts; ++attempt) {
            const std::uint32_t cpu = rseq_cpu_start(off);
            if (cpu >= here.rseq_stripes) [[unlikely]]
                break;
            if (const int r = seq(here.word(cpu, i), cpu, off)) [[likely]]
                return r;
        }
    }
    return 0;
}
#endif

/// Adds n to word i of the series (integer counts: bucket counts, reader counts). `order` applies
/// where the update is atomic; an rseq update is ordered by the fences of its user.
inline void percpu_add(const cell_ref& c, std::uint32_t i, std::uint64_t n,
                       memory_order order = memory_order_relaxed) noexcept {
#if VITALS_HAVE_RSEQ
    if (on_current_cpu(c, i, [n](cell_word* w, std::uint32_t cpu, std::ptrdiff_t off) {
            return rseq_add(w, n, cpu, off) ? 1 : 0;
        }) > 0) [[likely]]
        return;
#endif
    add_atomic(c, i, n, order);
}

/// Adds d to word i, a double (sums).
inline void percpu_add_double(const cell_ref& c, std::uint32_t i, double d) noexcept {
#if VITALS_HAVE_RSEQ
    if (on_current_cpu(c, i, [d](cell_word* w, std::uint32_t cpu, std::ptrdiff_t off) {
            return rseq_add_double(w, d, cpu, off) ? 1 : 0;
        }) > 0) [[likely]]
        return;
#endif
    add_double_atomic(c, i, d);
}

/// Words at or past this value are moved out by their writer (percpu_add_spilling).
inline constexpr std::uint64_t spill_threshold = std::uint64_t{1} << 63;

/// The largest amount percpu_add_spilling takes.
inline constexpr std::uint64_t spill_max_add = std::uint64_t{1} << 20;

/// Adds n (at most spill_max_add) to word i with the shortest sequence there is: the add itself
/// commits, with no test before it. Returns false when the word written has reached
/// spill_threshold: the caller then moves the value of the stripe it can write out (percpu_take).
/// Why a word still cannot wrap: every other writer keeps words below 2^63 (percpu_add_checked),
/// and every add that leaves a word at or past it is followed at once by a move, so a word
/// exceeds 2^63 only by adds whose writers have not moved yet or moved another stripe's value
/// (they were migrated in between): reaching 2^64 would take 2^43 such adds of the largest
/// amount, one pending per thread.
inline bool percpu_add_spilling(const cell_ref& c, std::uint32_t i, std::uint64_t n) noexcept {
#if VITALS_HAVE_RSEQ
    const int r = on_current_cpu(
        c, i, [n](cell_word* w, std::uint32_t cpu, std::ptrdiff_t off) { return rseq_add_high(w, n, cpu, off); });
    if (r != 0) [[likely]]
        return r == 1;
#endif
    return c.word(atomic_stripe(c), i)->fetch_add(n, detail::memory_order_relaxed) + n < spill_threshold;
}

/// Adds any n to word i unless the stripe's word would reach spill_threshold; false then
/// (nothing was written: the caller moves the value elsewhere, see percpu_take). Together with
/// percpu_add_spilling this keeps every word below 2^63 but for the small adds in flight.
inline bool percpu_add_checked(const cell_ref& c, std::uint32_t i, std::uint64_t n) noexcept {
#if VITALS_HAVE_RSEQ
    const int r = on_current_cpu(
        c, i, [n](cell_word* w, std::uint32_t cpu, std::ptrdiff_t off) { return rseq_add_below_high(w, n, cpu, off); });
    if (r != 0) [[likely]]
        return r > 0;
#endif
    cell_word* w = c.word(atomic_stripe(c), i);
    std::uint64_t old = w->load(detail::memory_order_relaxed);
    do {
        if (old + n < old || old + n >= spill_threshold) return false;
    } while (!w->compare_exchange_weak(old, old + n, detail::memory_order_relaxed, detail::memory_order_relaxed));
    return true;
}

/// Takes (and zeroes) word i of the stripe the calling thread may write: the current CPU's, or
/// an atomic stripe. Returns the value taken.
inline std::uint64_t percpu_take(const cell_ref& c, std::uint32_t i) noexcept {
#if VITALS_HAVE_RSEQ
    std::uint64_t v = 0;
    if (on_current_cpu(c, i, [&v](cell_word* w, std::uint32_t cpu, std::ptrdiff_t off) {
            return rseq_take(w, &v, cpu, off) ? 1 : 0;
        }) > 0)
        return v;
#endif
    return c.word(atomic_stripe(c), i)->exchange(0, detail::memory_order_relaxed);
}

/// One histogram observation: word `sum_i` (a double) += v and word `count_i` += 1.
inline void percpu_observe(const cell_ref& c, std::uint32_t sum_i, std::uint32_t count_i, double v) noexcept {
#if VITALS_HAVE_RSEQ
    if (const std::ptrdiff_t off = rseq_area_offset) [[likely]] {
        for (int attempt = 0; attempt < rseq_attempts; ++attempt) {
            const std::uint32_t cpu = rseq_cpu_start(off);
            if (cpu >= c.rseq_stripes) [[unlikely]]
                break;
            cell_word* row = c.word(cpu, 0);
            const int r = rseq_observe(row + sum_i, row + count_i, v, cpu, off);
            if (r == 2) [[likely]]
                return;
            if (r == 1) {
                percpu_add(c, count_i, 1);
                return;
            }
        }
    }
#endif
    add_double_atomic(c, sum_i, v);
    add_atomic(c, count_i, 1, memory_order_relaxed);
}

/// Sum of word i over every stripe (integers; wraps modulo 2^64 like the words).
inline std::uint64_t percpu_sum(const cell_ref& c, std::uint32_t i) noexcept {
    std::uint64_t s = 0;
    for (std::uint32_t k = 0; k < c.stripes(); ++k) s += c.word(k, i)->load(detail::memory_order_relaxed);
    return s;
}

/// Sum of word i over every stripe, as doubles, in stripe order.
inline double percpu_sum_double(const cell_ref& c, std::uint32_t i) noexcept {
    double s = 0;
    for (std::uint32_t k = 0; k < c.stripes(); ++k)
        s += word_to_double(c.word(k, i)->load(detail::memory_order_relaxed));
    return s;
}

}  // namespace vitals::detail
