//! Shopper accounts: signup through a mailed link (the mail is written to the outbox in the
//! signup's own transaction) and login (argon2id, hashed off the async threads), the account's
//! cart (kept in the database so every browser signed in to it shares one), its orders, and
//! what it has already bought of limited products.

use std::sync::{Arc, LazyLock};

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::Utc;
use tokio::sync::{Notify, OnceCell, Semaphore};

use super::{Inventory, InventoryError};
use crate::domain::AccountId;
use crate::domain::account::{Email, Ordered, SignupError, check_password};
use crate::domain::mail::{self, LINK_VALID_HOURS};
use crate::domain::order::Order;
use crate::domain::session::SessionSecret;
use crate::store::StoreError;
pub use crate::store::accounts::AccountRow;
use crate::store::accounts::{self, Confirmation, NewSignup, SignupOutcome};

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error(transparent)]
    Signup(#[from] SignupError),
    /// One answer for an unknown email and a wrong password.
    #[error("That email and password don't match an account.")]
    BadCredentials,
    #[error("cannot hash the password")]
    Hash(#[source] argon2::password_hash::Error),
    #[error("the hashing task failed")]
    HashTask(#[source] tokio::task::JoinError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AccountError> for InventoryError {
    fn from(error: AccountError) -> InventoryError {
        match error {
            AccountError::Store(e) => InventoryError::Store(e),
            other => InventoryError::Account(other),
        }
    }
}

/// A hash to verify unknown emails against, so a login for one takes as long as a wrong
/// password does (made once, on the first unknown email).
static DECOY: OnceCell<String> = OnceCell::const_new();

/// Argon2id (the crate's default parameters) takes 19 MiB for each hash while it runs. Run
/// on the blocking pool without a bound, a burst of logins hashed dozens at once: 60 from one
/// address within its budget took the node from 26 MiB to 1.2 GiB (`sneakers-bench
/// login-flood`), and many addresses would take it further. Hashing more at once than there are
/// cores is no faster, so the others wait their turn here, holding no hash memory.
static HASHING: LazyLock<Semaphore> = LazyLock::new(|| {
    Semaphore::new(std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get))
});

/// Runs `work` (one password hash) on the blocking pool once one of [`HASHING`]'s turns is
/// free.
async fn hashing<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, AccountError> {
    let _turn = HASHING
        .acquire()
        .await
        .expect("the hashing semaphore is never closed");
    tokio::task::spawn_blocking(work)
        .await
        .map_err(AccountError::HashTask)
}

async fn hash(password: String) -> Result<String, AccountError> {
    hashing(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(AccountError::Hash)
    })
    .await?
}

async fn verify(password: String, stored: String) -> Result<bool, AccountError> {
    hashing(move || {
        let parsed = PasswordHash::new(&stored).map_err(AccountError::Hash)?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await?
}

/// What the service needs to write mail: the store's public address for links, and the
/// delivery loop to wake once a mail is in the outbox.
#[derive(Debug, Clone, Default)]
pub struct Mailing {
    /// `PUBLIC_URL` without a trailing slash; empty: links are paths (mail goes to the log).
    pub public_url: String,
    pub wake: Arc<Notify>,
}

/// What following a mailed link did, for the page that answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmed {
    Verified(AccountRow),
    /// Unknown, used or expired.
    Invalid,
    /// The address got its account from another signup's link first.
    Taken,
}

fn random_secret() -> SessionSecret {
    SessionSecret::from_random(rand::random())
}

fn link_expiry(now_ms: i64) -> i64 {
    now_ms.saturating_add(LINK_VALID_HOURS * 3600 * 1000)
}

impl Inventory {
    /// A signup: a link to make the account is mailed to a new address; an address that has
    /// an account gets a notice instead. Both take the same work (a password hash, one
    /// transaction), and the caller answers both the same, so the form tells nobody whether
    /// an address is registered. Refusals are only about the form itself.
    pub async fn signup(&self, email: &str, password: &str) -> Result<(), AccountError> {
        let email = Email::parse(email)?;
        check_password(password)?;
        let hashed = hash(password.to_string()).await?;
        let token = random_secret();
        let base = &self.mailing.public_url;
        let link = mail::verify_link(base, token.as_str());
        let now = Utc::now().timestamp_millis();
        let outcome = accounts::begin_signup(
            &self.db,
            NewSignup {
                email: &email,
                password_hash: &hashed,
                token_hash: &token.hash(),
                now_ms: now,
                expires_ms: link_expiry(now),
                link_mail: &mail::verify_signup(email.as_str(), &link),
                owner_mail: &mail::already_registered(
                    email.as_str(),
                    &format!("{base}/account/login"),
                ),
            },
        )
        .await?;
        self.mailing.wake.notify_one();
        match outcome {
            SignupOutcome::LinkMailed => tracing::info!("signup: link mailed"),
            SignupOutcome::AlreadyRegistered => {
                tracing::info!("signup for a registered address: its owner is told")
            }
        }
        Ok(())
    }

    /// Follows a mailed link (once). `cart_id` becomes a new account's cart topic.
    pub async fn confirm_email(
        &self,
        token: &str,
        cart_id: &str,
    ) -> Result<Confirmed, AccountError> {
        let Some(token) = SessionSecret::parse(token) else {
            return Ok(Confirmed::Invalid);
        };
        let now = Utc::now().timestamp_millis();
        Ok(
            match accounts::confirm(&self.db, &token.hash(), now, cart_id).await? {
                Confirmation::Verified(account) => {
                    tracing::info!(account = %account.id, "email verified");
                    Confirmed::Verified(account)
                }
                Confirmation::Invalid => Confirmed::Invalid,
                Confirmation::Taken => Confirmed::Taken,
            },
        )
    }

    /// Mails a signed-in account that is not verified yet (one from before verification
    /// existed) a link to verify its address.
    pub async fn request_verification(&self, account: &AccountRow) -> Result<(), AccountError> {
        let email = Email::parse(&account.email)?;
        let token = random_secret();
        let link = mail::verify_link(&self.mailing.public_url, token.as_str());
        let now = Utc::now().timestamp_millis();
        accounts::request_verification(
            &self.db,
            account.id,
            &email,
            &token.hash(),
            now,
            link_expiry(now),
            &mail::verify_account(email.as_str(), &link),
        )
        .await?;
        self.mailing.wake.notify_one();
        tracing::info!(account = %account.id, "verification link mailed");
        Ok(())
    }

    pub async fn login(&self, email: &str, password: &str) -> Result<AccountRow, AccountError> {
        let password = password.to_string();
        let Ok(email) = Email::parse(email) else {
            // Not an email at all: still spend a hash's time.
            verify(password, decoy().await?).await?;
            return Err(AccountError::BadCredentials);
        };
        let Some((id, stored)) = accounts::credentials(&self.db, &email).await? else {
            verify(password, decoy().await?).await?;
            return Err(AccountError::BadCredentials);
        };
        if !verify(password, stored).await? {
            return Err(AccountError::BadCredentials);
        }
        accounts::find(&self.db, id)
            .await?
            .ok_or(AccountError::BadCredentials)
    }

    /// A new password, if `current` is the account's password now.
    pub async fn change_password(
        &self,
        id: AccountId,
        current: &str,
        new: &str,
    ) -> Result<(), AccountError> {
        let Some(stored) = accounts::password_hash(&self.db, id).await? else {
            return Err(AccountError::BadCredentials);
        };
        if !verify(current.to_string(), stored).await? {
            return Err(AccountError::BadCredentials);
        }
        check_password(new)?;
        let hashed = hash(new.to_string()).await?;
        accounts::set_password(&self.db, id, &hashed).await?;
        tracing::info!(account = %id, "password changed");
        Ok(())
    }

    pub async fn account(&self, id: AccountId) -> Result<Option<AccountRow>, InventoryError> {
        Ok(accounts::find(&self.db, id).await?)
    }

    pub async fn account_orders(&self, id: AccountId) -> Result<Vec<Order>, InventoryError> {
        Ok(accounts::orders(&self.db, id).await?)
    }

    /// Pairs of each limited product the account has ordered.
    pub async fn ordered_limited(&self, id: AccountId) -> Result<Ordered, InventoryError> {
        Ok(accounts::ordered_limited(&self.db, id).await?)
    }

    /// Keeps the account's cart (signed at `signed_ms`) for its other browsers.
    pub async fn save_account_cart(
        &self,
        id: AccountId,
        token: &str,
        signed_ms: i64,
    ) -> Result<(), InventoryError> {
        Ok(accounts::save_cart(&self.db, id, token, signed_ms).await?)
    }

    /// [`Inventory::save_account_cart`] from code that cannot wait (a channel's callback); a
    /// failure is logged, and the tabs already hold the cart.
    pub fn save_account_cart_soon(self: &Arc<Self>, id: AccountId, token: String, signed_ms: i64) {
        let inventory = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(error) = inventory.save_account_cart(id, &token, signed_ms).await {
                tracing::warn!(account = %id, error = %crate::error_chain::ErrorChain(&error), "cannot save the account's cart");
            }
        });
    }
}

async fn decoy() -> Result<String, AccountError> {
    DECOY
        .get_or_try_init(|| hash("a password nobody has, for timing".to_string()))
        .await
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// However many logins arrive at once, no more hashes run than there are turns: what a
    /// burst costs in hash memory is bounded.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hashes_run_a_few_at_a_time_whatever_arrives() {
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let burst = (0..40).map(|_| {
            let (running, most) = (Arc::clone(&running), Arc::clone(&most));
            tokio::spawn(hashing(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                // Stands for the hash's work, so that turns overlap if nothing bounds them.
                std::thread::sleep(std::time::Duration::from_millis(10));
                running.fetch_sub(1, Ordering::SeqCst);
            }))
        });
        for done in futures_util::future::join_all(burst).await {
            assert!(matches!(done, Ok(Ok(()))));
        }
        let turns = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        let most = most.load(Ordering::SeqCst);
        assert!(
            most >= 1 && most <= turns,
            "{most} hashes at once, {turns} turns"
        );
    }
}
