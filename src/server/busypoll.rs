//! Busy-polling: how long the event loop polls without sleeping before it blocks.
//!
//! Why it exists. A client that does not pipeline (redis-benchmark -P 1, most application
//! clients) sends its next command a few microseconds after it reads our reply. If by then we
//! are blocked in epoll_wait, its send has to wake us: the kernel marks our thread runnable and
//! interrupts our CPU, which has gone idle (on a VM, halted: the interrupt is a VM exit). That
//! cost lands on the client's send, and the client is usually the bottleneck of a
//! request/response workload. Polling with a zero timeout for a few microseconds before
//! sleeping lets the next command find us awake: its send only queues an event.
//!
//! When. Only after a wake-up that served commands one per read event (no pipelining). A
//! pipelined client sends many commands per wake-up, so a wake-up costs it little, and the
//! poll would be pure overhead on the server. (A pipelined load can still look one-by-one now
//! and then, e.g. a command split across two reads; the credit bounds that too.)
//!
//! How long. At most `WINDOW` (8 µs), never past the next timer. Measured with
//! redis-benchmark -P 1 SET: the server's sleeps drop from about 55,000 to about 20,000 per
//! 300,000 requests. A haltpoll-style adaptive window (grow on short sleeps, shrink on long
//! ones) avoided fewer sleeps and saved no CPU, so the window is fixed.
//!
//! Bound. Polling spends credit and being busy earns it: every nanosecond the loop is busy
//! (serving, before_sleep, cron) adds a quarter of a nanosecond (capped at `CREDIT_CAP`), and
//! every nanosecond polled is charged in full, including the overrun of the last poll, so
//! credit may go negative and must be earned back. Polling therefore never costs more than a
//! quarter of the busy time plus one poll, whatever the traffic looks like; an idle server
//! never polls.
//!
//! ```text
//!   wake ─► serve ─► before_sleep ─┬─ one command per read, credit left ─► poll(0) … poll(0) ─┬─ event: serve
//!                                  │                                                          └─ window spent ─┐
//!                                  └─ otherwise ──────────────────────────────────────────────► poll(rest of timeout) ◄─┘
//! ```

use std::time::Duration;

/// The longest poll, in nanoseconds.
const WINDOW: i64 = 8_000;
/// A poll shorter than this (ns) is not worth starting: one epoll_wait alone costs about this.
const MIN_POLL: i64 = 1_000;
/// Credit earned per nanosecond busy is 1 / CREDIT_DIVISOR.
const CREDIT_DIVISOR: i64 = 4;
/// Credit never accumulates past this (ns), so a long busy stretch cannot fund a long spin.
const CREDIT_CAP: i64 = 1_000_000;

/// The busy-poll policy of one event loop: what it may still spend.
#[derive(Debug, Default)]
pub struct BusyPoll {
    /// Nanoseconds of polling the loop may still spend; negative after an overrun.
    credit: i64,
    /// The read-event and command counters at the previous `window` call.
    reads_seen: u64,
    commands_seen: u64,
}

impl BusyPoll {
    /// A policy with no credit yet.
    pub fn new() -> BusyPoll {
        BusyPoll::default()
    }

    /// How long to poll before sleeping, after a wake-up that was busy for `busy` ns. `reads`
    /// and `commands` are the server's running totals of read events and commands (INFO's
    /// total_reads_processed and total_commands_processed); what they grew by since the last
    /// call is the wake-up's work. `timeout` is the longest the loop may wait (the next
    /// timer): the window never reaches past it.
    pub fn window(&mut self, busy: u64, reads: u64, commands: u64, timeout: Duration) -> Duration {
        // Saturating: CONFIG RESETSTAT may have zeroed the totals meanwhile.
        let (reads_total, commands_total) = (reads, commands);
        let reads = reads_total.saturating_sub(self.reads_seen);
        let commands = commands_total.saturating_sub(self.commands_seen);
        (self.reads_seen, self.commands_seen) = (reads_total, commands_total);
        let earned = i64::try_from(busy / CREDIT_DIVISOR as u64).unwrap_or(CREDIT_CAP);
        self.credit = self.credit.saturating_add(earned).min(CREDIT_CAP);
        let one_by_one = reads > 0 && commands > 0 && commands <= reads;
        let ns = WINDOW.min(self.credit);
        let timeout_ns = i64::try_from(timeout.as_nanos()).unwrap_or(i64::MAX);
        if !one_by_one || ns < MIN_POLL || ns > timeout_ns {
            return Duration::ZERO;
        }
        Duration::from_nanos(ns as u64)
    }

    /// Charges `spent` nanoseconds of polling, all of it (the last poll may overrun the
    /// window; the debt is paid from later credit).
    pub fn spent(&mut self, spent: u64) {
        let spent = i64::try_from(spent).unwrap_or(i64::MAX);
        self.credit = self.credit.saturating_sub(spent);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LONG: Duration = Duration::from_millis(100);

    /// Drives a `BusyPoll` one wake-up at a time: the event loop passes running totals, the
    /// tests say what each wake-up did.
    struct Loop {
        bp: BusyPoll,
        reads: u64,
        commands: u64,
    }

    impl Loop {
        fn new() -> Loop {
            Loop {
                bp: BusyPoll::new(),
                reads: 0,
                commands: 0,
            }
        }

        fn window(&mut self, busy: u64, reads: u64, commands: u64, timeout: Duration) -> Duration {
            self.reads += reads;
            self.commands += commands;
            self.bp.window(busy, self.reads, self.commands, timeout)
        }

        fn spent(&mut self, spent: u64) {
            self.bp.spent(spent);
        }
    }

    #[test]
    fn counters_reset_under_it_count_as_no_work() {
        let mut bp = BusyPoll::new();
        bp.window(1_000_000, 100, 100, LONG);
        // CONFIG RESETSTAT zeroed the totals: this wake-up did nothing the policy can see.
        assert_eq!(bp.window(0, 1, 1, LONG), Duration::ZERO);
        assert_eq!(
            bp.window(0, 2, 2, LONG),
            Duration::from_nanos(WINDOW as u64)
        );
    }

    #[test]
    fn polls_after_one_command_per_read_once_credit_is_earned() {
        let mut bp = Loop::new();
        // 2 µs busy earns 0.5 µs: not worth a poll yet.
        assert_eq!(bp.window(2_000, 1, 1, LONG), Duration::ZERO);
        // 40 µs busy earns 10 µs more: a full window.
        assert_eq!(
            bp.window(40_000, 3, 3, LONG),
            Duration::from_nanos(WINDOW as u64)
        );
        bp.spent(WINDOW as u64);
        // 2.5 µs of credit left, plus 1 µs earned now.
        assert_eq!(bp.window(4_000, 1, 1, LONG), Duration::from_nanos(3_500));
    }

    #[test]
    fn pipelined_or_readless_wakeups_never_poll() {
        let mut bp = Loop::new();
        bp.window(1_000_000, 1, 1, LONG);
        // 16 commands per read: a pipelining client.
        assert_eq!(bp.window(40_000, 2, 32, LONG), Duration::ZERO);
        // A wake-up with no read (a timer, a writable socket, an accept).
        assert_eq!(bp.window(40_000, 0, 0, LONG), Duration::ZERO);
        // Reads that completed no command (half a command, a closed socket).
        assert_eq!(bp.window(40_000, 2, 0, LONG), Duration::ZERO);
        assert_eq!(
            bp.window(40_000, 1, 1, LONG),
            Duration::from_nanos(WINDOW as u64)
        );
    }

    #[test]
    fn polling_never_delays_a_timer() {
        let mut bp = Loop::new();
        bp.window(1_000_000, 1, 1, LONG);
        assert_eq!(bp.window(0, 1, 1, Duration::from_micros(3)), Duration::ZERO);
        assert_eq!(bp.window(0, 1, 1, Duration::ZERO), Duration::ZERO);
        assert_eq!(
            bp.window(0, 1, 1, Duration::from_micros(8)),
            Duration::from_nanos(WINDOW as u64)
        );
    }

    #[test]
    fn an_overrun_is_paid_back_before_the_next_poll() {
        let mut bp = Loop::new();
        assert_eq!(
            bp.window(32_000, 1, 1, LONG),
            Duration::from_nanos(WINDOW as u64)
        );
        // The last epoll_wait ended 4 µs past the window: credit is now -4 µs.
        bp.spent(12_000);
        // 16 µs busy earns 4 µs: the debt is paid, nothing left to poll with.
        assert_eq!(bp.window(16_000, 1, 1, LONG), Duration::ZERO);
        assert_eq!(bp.window(8_000, 1, 1, LONG), Duration::from_nanos(2_000));
    }

    #[test]
    fn credit_is_capped() {
        let mut bp = Loop::new();
        bp.window(u64::MAX, 1, 1, LONG);
        let mut polled = 0;
        while !bp.window(0, 1, 1, LONG).is_zero() {
            bp.spent(WINDOW as u64);
            polled += WINDOW;
        }
        assert!(polled <= CREDIT_CAP, "polled {polled} ns on saved credit");
    }

    /// Whatever the traffic, the total polled is at most a quarter of the total busy time
    /// plus one poll, even when every poll overruns its window (the clock is read after each
    /// epoll_wait, so the last one always ends past the window).
    #[test]
    fn polling_costs_at_most_a_quarter_of_busy_time() {
        for overrun in [0u64, 600, 3_000] {
            let mut bp = Loop::new();
            let (mut busy_total, mut polled_total) = (0u64, 0u64);
            // The worst client: one command per wake-up, and it always arrives just after the
            // window ends, so every poll is spent in full and catches nothing.
            for i in 0..10_000u64 {
                let busy = 1_000 + (i % 7) * 3_000;
                busy_total += busy;
                let w = bp.window(busy, 1, 1, LONG).as_nanos() as u64;
                let spent = if w == 0 { 0 } else { w + overrun };
                bp.spent(spent);
                polled_total += spent;
            }
            assert!(polled_total > 0);
            let bound = busy_total / CREDIT_DIVISOR as u64 + WINDOW as u64 + overrun;
            assert!(
                polled_total <= bound,
                "overrun {overrun}: polled {polled_total} ns for {busy_total} ns busy"
            );
        }
    }
}
