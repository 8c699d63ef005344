//! A seeded pseudo-random sequence for tests that must be repeatable.

/// Marsaglia's xorshift64 (shifts 13, 7, 17): the same seed gives the same
/// numbers on every run and machine. Not for anything but tests.
#[derive(Debug, Clone)]
pub struct XorShift(u64);

impl XorShift {
    /// A sequence from `seed` (not zero: zero stays zero).
    pub fn new(seed: u64) -> XorShift {
        XorShift(seed)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// The next number below `n` (`n` > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
}
