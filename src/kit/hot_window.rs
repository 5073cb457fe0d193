//! [`HotWindow`]: how long a runtime thread that ran out of work keeps looking for more
//! before it parks. An adapter whose threads park when idle uses it in its worker loop, so
//! that back-to-back calls do not pay for waking a parked thread, and a thread that never
//! catches anything stops spinning.

use std::time::{Duration, Instant};

/// How long a runtime thread that ran out of work keeps looking for more before it sleeps, and
/// whether looking pays at all.
///
/// Waking a parked thread costs tens of microseconds on a small VM; handing off between two
/// running threads, well under one. So a thread that just ran a step stays hot for a short
/// window (about twice a park and wake, 50 µs by default) and picks up the next step without
/// being woken.
///
/// That pays only while steps come back to back. When they come further apart than the
/// window (one call every 100 µs, say), looking catches nothing, burns a core, and on a VM
/// even slows the wake that follows. So the window keeps score: after
/// [`GIVE_UP_AFTER`](Self::GIVE_UP_AFTER) windows in a row that caught nothing, the thread
/// sleeps as soon as it runs out of work, and only looks again on a probe, every 16th time it
/// runs out at first, then less often while probes keep missing (up to every 256th). A window
/// that catches a step restores looking at once. An idle runtime burns no CPU once the window
/// has passed.
///
/// ```
/// use loopbridge::kit::HotWindow;
///
/// let mut window = HotWindow::new();
/// window.worked();
/// assert!(window.keep_looking(), "just worked: stay hot");
/// ```
#[derive(Clone, Debug)]
pub struct HotWindow {
    window: Duration,
    spell: Spell,
    /// Windows in a row that caught nothing.
    misses: u32,
    /// Idle spells slept through without looking since the last look.
    skipped: u32,
    /// Every how many idle spells a thread that gave up looks anyway, to find out whether
    /// looking pays again.
    probe_every: u32,
}

/// Where a [`HotWindow`]'s thread stands since it last ran out of work.
#[derive(Clone, Copy, Debug)]
enum Spell {
    /// It has work, or has not looked since it had some.
    Working,
    /// It has been looking since then.
    Looking(Instant),
    /// It has stopped looking, for this idle spell.
    Sleeping,
}

impl HotWindow {
    /// A window of [`HotWindow::DEFAULT`].
    ///
    /// ```
    /// let window = loopbridge::kit::HotWindow::new();
    /// # drop(window);
    /// ```
    #[must_use]
    pub fn new() -> HotWindow {
        HotWindow::with_window(HotWindow::DEFAULT)
    }

    /// The default window: about twice the cost of waking a parked thread on a 2-vCPU VM.
    pub const DEFAULT: Duration = crate::spin::WINDOW;

    /// How many windows in a row must catch nothing before the thread stops looking.
    pub const GIVE_UP_AFTER: u32 = 2;

    /// The first probe's interval, in idle spells.
    const FIRST_PROBE: u32 = 16;

    /// The longest probe interval, in idle spells.
    const LAST_PROBE: u32 = 256;

    /// A window of `window`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let window = loopbridge::kit::HotWindow::with_window(Duration::from_micros(20));
    /// # drop(window);
    /// ```
    #[must_use]
    pub fn with_window(window: Duration) -> HotWindow {
        HotWindow {
            window,
            spell: Spell::Working,
            misses: 0,
            skipped: 0,
            probe_every: HotWindow::FIRST_PROBE,
        }
    }

    /// Notes that the thread found work (or that work arrived): the window starts again once
    /// it runs out. Work found while looking counts as a catch: looking pays.
    ///
    /// ```
    /// let mut window = loopbridge::kit::HotWindow::new();
    /// assert_eq!(window.look(|| false), Some(false));
    /// window.worked();
    /// ```
    pub fn worked(&mut self) {
        if let Spell::Looking(_) = self.spell {
            self.caught();
        }
        self.spell = Spell::Working;
    }

    /// Decides whether the idle spell that begins `now` looks.
    fn begin_spell(&mut self, now: Instant) {
        let looks = self.misses < HotWindow::GIVE_UP_AFTER || self.skipped + 1 >= self.probe_every;
        if looks {
            self.spell = Spell::Looking(now);
            self.skipped = 0;
        } else {
            self.spell = Spell::Sleeping;
            self.skipped += 1;
        }
    }

    fn caught(&mut self) {
        self.misses = 0;
        self.probe_every = HotWindow::FIRST_PROBE;
    }

    fn missed(&mut self) {
        if self.misses >= HotWindow::GIVE_UP_AFTER {
            // A probe that missed: probe less often.
            self.probe_every = (self.probe_every * 2).min(HotWindow::LAST_PROBE);
        }
        self.misses = self.misses.saturating_add(1);
        self.spell = Spell::Sleeping;
    }

    /// Where the spell stands: `Some(since)` while it should look on.
    fn looking(&mut self, now: Instant) -> Option<Instant> {
        if let Spell::Working = self.spell {
            self.begin_spell(now);
        }
        match self.spell {
            Spell::Looking(since) => Some(since),
            _ => None,
        }
    }

    /// Called when the thread finds no work: whether it should keep looking, because looking
    /// has been paying and the window since it last found some has not passed. Reads the
    /// clock while it looks.
    ///
    /// ```
    /// use std::time::Duration;
    /// let mut window = loopbridge::kit::HotWindow::with_window(Duration::ZERO);
    /// window.worked();
    /// assert!(!window.keep_looking());
    /// ```
    pub fn keep_looking(&mut self) -> bool {
        let now = Instant::now();
        let Some(since) = self.looking(now) else {
            return false;
        };
        if now - since < self.window {
            return true;
        }
        self.missed();
        false
    }

    /// Called when the thread finds no work: looks again with `found` in a short burst, until
    /// it returns `true` or [`BETWEEN_TURNS`](Self::BETWEEN_TURNS) has passed, unless the
    /// window has passed or looking does not pay, when it returns `None` (time to sleep; call
    /// [`worked`](Self::worked) when work wakes the thread). Between two bursts, let the thread's
    /// reactor turn (yield to it): a turn is a system call, far slower than a look, so a step
    /// that arrives meanwhile is picked up sooner. Reads the clock once.
    ///
    /// ```
    /// use std::time::Duration;
    /// use loopbridge::kit::HotWindow;
    ///
    /// let mut window = HotWindow::new();
    /// assert_eq!(window.look(|| true), Some(true));
    /// let mut cold = HotWindow::with_window(Duration::ZERO);
    /// assert_eq!(cold.look(|| true), None);
    /// ```
    pub fn look(&mut self, found: impl Fn() -> bool) -> Option<bool> {
        let now = Instant::now();
        let since = self.looking(now)?;
        if now - since >= self.window {
            self.missed();
            return None;
        }
        let caught = crate::spin::until(&found, now, now + Self::BETWEEN_TURNS);
        if caught {
            self.caught();
            self.spell = Spell::Working;
        }
        Some(caught)
    }

    /// How long one burst of [`look`](Self::look) lasts: IO and timers wait at most this
    /// much longer than if the thread slept on its reactor.
    pub const BETWEEN_TURNS: Duration = crate::spin::BETWEEN_TURNS;
}

impl Default for HotWindow {
    fn default() -> HotWindow {
        HotWindow::new()
    }
}

#[cfg(all(test, not(loopbridge_loom)))]
mod tests {
    use std::{thread, time::Duration};

    use crate::kit::hot_window::HotWindow;

    /// Spells in which the window passes without catching anything.
    fn miss(window: &mut HotWindow, how_long: Duration) {
        window.worked();
        assert_eq!(
            window.look(|| false),
            Some(false),
            "a window that pays looks"
        );
        thread::sleep(how_long * 2);
        assert_eq!(window.look(|| false), None, "the window has passed");
    }

    /// When looking keeps catching nothing (calls further apart than the window), the thread
    /// stops looking, and sleeps as soon as it runs out of work. (Before, it looked for the
    /// whole window after every step, however long the gaps.)
    #[test]
    fn a_window_that_catches_nothing_stops_looking() {
        let how_long = Duration::from_millis(1);
        let mut window = HotWindow::with_window(how_long);
        for _ in 0..HotWindow::GIVE_UP_AFTER {
            miss(&mut window, how_long);
        }
        window.worked();
        assert_eq!(window.look(|| true), None, "gave up: sleeps at once");
        window.worked();
        assert!(!window.keep_looking(), "gave up: sleeps at once");
    }

    /// A window that gave up probes now and then, less often while its probes miss, and a
    /// probe that catches a step restores looking at once.
    #[test]
    fn a_probe_that_catches_restores_looking() {
        let how_long = Duration::from_millis(1);
        let mut window = HotWindow::with_window(how_long);
        for _ in 0..HotWindow::GIVE_UP_AFTER {
            miss(&mut window, how_long);
        }
        // Spells until a probe (the thread looks, and finds what `found` says).
        let until_probe = |window: &mut HotWindow, found: bool| {
            let mut spells = 1;
            loop {
                window.worked();
                if let Some(caught) = window.look(|| found) {
                    assert_eq!(caught, found);
                    return spells;
                }
                spells += 1;
            }
        };
        assert_eq!(until_probe(&mut window, false), HotWindow::FIRST_PROBE);
        // That probe misses: the next comes half as often, and catches a step.
        thread::sleep(how_long * 2);
        assert_eq!(window.look(|| false), None);
        assert_eq!(until_probe(&mut window, true), 2 * HotWindow::FIRST_PROBE);
        // Looking pays again.
        for _ in 0..3 {
            window.worked();
            assert_eq!(
                window.look(|| true),
                Some(true),
                "looks again after every step"
            );
        }
    }
}
