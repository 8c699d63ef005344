//! rtrb, a lock-free SPSC ring between two threads of this process: what a
//! ring costs without a process boundary (no restart row: a thread cannot be
//! killed alone).

use std::hint::spin_loop;

use sairing_benches::measure::{self, Measured, Stats};

use crate::harness::{message, FLUSH, GET, SET};

type Request = [u8; 128];

/// The client's ends of the two rings: requests out, answers (the request's
/// op byte) back.
struct Client {
    requests: rtrb::Producer<Request>,
    answers: rtrb::Consumer<u8>,
    get: Request,
    set: Request,
    flush: Request,
}

impl Client {
    /// Sends `m` and spins until it is answered.
    fn exchange(&mut self, m: Request) {
        while self.requests.push(m).is_err() {}
        loop {
            if self.answers.pop().is_ok() {
                break;
            }
            spin_loop();
        }
    }
}

impl Measured for Client {
    fn round_trip(&mut self) -> anyhow::Result<()> {
        self.exchange(self.get);
        Ok(())
    }

    fn one_way(&mut self, messages: u64) -> anyhow::Result<()> {
        // Pushed from a local: read from the struct each time, the request
        // would be copied twice.
        let set = self.set;
        for _ in 0..messages {
            while self.requests.push(set).is_err() {
                spin_loop();
            }
        }
        self.exchange(self.flush);
        Ok(())
    }
}

fn request(op: u8) -> Request {
    let mut a = [0u8; 128];
    a.copy_from_slice(&message(op));
    a
}

/// The `rtrb-inproc` row: the server is a thread on the other core that
/// answers everything but sets, and stops at a `q`.
pub fn measure(samples: u64, messages: u64) -> anyhow::Result<Stats> {
    let (requests, mut server_requests) = rtrb::RingBuffer::<Request>::new(1 << 14);
    let (mut server_answers, answers) = rtrb::RingBuffer::<u8>::new(1 << 14);
    let server = std::thread::spawn(move || {
        measure::pin(1);
        loop {
            match server_requests.pop() {
                Ok(m) if m[0] == SET => {}
                Ok(m) => {
                    while server_answers.push(m[0]).is_err() {}
                    if m[0] == b'q' {
                        return;
                    }
                }
                Err(_) => spin_loop(),
            }
        }
    });
    let mut client = Client {
        requests,
        answers,
        get: request(GET),
        set: request(SET),
        flush: request(FLUSH),
    };
    let stats = measure::run("rtrb-inproc", &mut client, samples, messages)?;
    client.exchange(request(b'q'));
    server
        .join()
        .map_err(|_| anyhow::anyhow!("rtrb server thread panicked"))?;
    Ok(stats)
}
