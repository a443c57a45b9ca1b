//! Work that must never run on a core, on threads of its own: Argon2id
//! hashing (tens of milliseconds and 19 MiB a hash), the API's store calls
//! that may wait on the disk (a registration, a group change), and (in a
//! second pool of its own, so a read never queues behind a hash) the
//! message path's store reads.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

use super::Failure;

/// Hashing jobs queued at most; beyond, calls get 503.
const QUEUE: usize = 256;

enum Job {
    Hash(String, flume::Sender<Result<String, String>>),
    Verify(String, String, flume::Sender<bool>),
    Run(Box<dyn FnOnce() + Send>),
}

/// A pool of threads fed through a bounded queue.
pub struct Offload {
    jobs: flume::Sender<Job>,
}

/// Verified against when a login names no account, so an unknown mobile
/// costs the same time as a wrong password. A constant: hashing one at start
/// would leave Argon2's 19 MiB resident in an idle node.
const DECOY: &str = "$argon2id$v=19$m=19456,t=2,p=1$ZGVjb3lkZWNveWRlY295$k7bpXxUXbzcYkGWz1QhZp3b2zqWg2dCp0ROJNndkvHo";

impl Offload {
    /// Starts `threads` threads (Argon2id with the crate's defaults: 19 MiB, t=2, p=1).
    pub fn new(threads: usize) -> Self {
        Self::named("imedge-offload", threads, QUEUE)
    }

    /// Starts `threads` threads named `name-N` taking at most `queue` jobs
    /// waiting; a job beyond is refused with 503, never waited for.
    pub fn named(name: &str, threads: usize, queue: usize) -> Self {
        let (jobs, rx) = flume::bounded::<Job>(queue);
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || {
                    for job in rx.iter() {
                        match job {
                            Job::Hash(pw, reply) => {
                                let _ = reply.send(hash(&pw));
                            }
                            Job::Verify(pw, phc, reply) => {
                                let _ = reply.send(verify(&pw, &phc));
                            }
                            Job::Run(f) => f(),
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "cannot start an offload thread");
            }
        }
        Self { jobs }
    }

    /// The Argon2id PHC string of `password`.
    pub async fn hash(&self, password: &str) -> Result<String, Failure> {
        let (tx, rx) = flume::bounded(1);
        self.submit(Job::Hash(password.to_owned(), tx))?;
        match rx.recv_async().await {
            Ok(Ok(phc)) => Ok(phc),
            Ok(Err(e)) => Err((500, format!("hashing failed: {e}"))),
            Err(_) => Err((503, "hashing unavailable".to_owned())),
        }
    }

    /// Whether `password` matches `phc` (`None`: check against the decoy, answer false).
    pub async fn verify(&self, password: &str, phc: Option<&str>) -> Result<bool, Failure> {
        let (tx, rx) = flume::bounded(1);
        let target = phc.unwrap_or(DECOY).to_owned();
        self.submit(Job::Verify(password.to_owned(), target, tx))?;
        let ok = rx
            .recv_async()
            .await
            .map_err(|_| (503, "hashing unavailable".to_owned()))?;
        Ok(ok && phc.is_some())
    }

    /// Runs `f` on a pool thread and returns its result.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Failure> {
        let (tx, rx) = flume::bounded(1);
        self.submit(Job::Run(Box::new(move || {
            let _ = tx.send(f());
        })))?;
        rx.recv_async()
            .await
            .map_err(|_| (503, "worker unavailable".to_owned()))
    }

    fn submit(&self, job: Job) -> Result<(), Failure> {
        self.jobs
            .try_send(job)
            .map_err(|_| (503, "server busy; retry shortly".to_owned()))
    }
}

fn hash(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_salted_and_verify() {
        let a = hash("correct horse").unwrap();
        let b = hash("correct horse").unwrap();
        assert!(a.starts_with("$argon2id$"));
        assert_ne!(a, b, "salted");
        assert!(verify("correct horse", &a));
        assert!(!verify("wrong", &a));
        assert!(!verify("x", "not a phc string"));
        assert!(
            PasswordHash::new(DECOY).is_ok(),
            "the decoy parses, so it costs a full verify"
        );
    }
}
