//! Shopper accounts: signup and login (argon2id, hashed off the async threads), the account's
//! cart (kept in the database so every browser signed in to it shares one), its orders, and
//! what it has already bought of limited products.

use std::sync::Arc;

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use tokio::sync::OnceCell;

use super::{Inventory, InventoryError};
use crate::domain::AccountId;
use crate::domain::account::{Email, Ordered, SignupError, check_password};
use crate::domain::order::Order;
use crate::store::StoreError;
pub use crate::store::accounts::AccountRow;
use crate::store::accounts::{self, Taken};

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

async fn hash(password: String) -> Result<String, AccountError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(AccountError::Hash)
    })
    .await
    .map_err(AccountError::HashTask)?
}

async fn verify(password: String, stored: String) -> Result<bool, AccountError> {
    tokio::task::spawn_blocking(move || {
        let parsed = PasswordHash::new(&stored).map_err(AccountError::Hash)?;
        Ok(Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok())
    })
    .await
    .map_err(AccountError::HashTask)?
}

impl Inventory {
    /// A new account, signed in with `cart_id` as its cart topic from now on.
    pub async fn signup(
        &self,
        email: &str,
        password: &str,
        cart_id: &str,
    ) -> Result<AccountRow, AccountError> {
        let email = Email::parse(email)?;
        check_password(password)?;
        let hashed = hash(password.to_string()).await?;
        match accounts::create(&self.db, &email, &hashed, cart_id).await? {
            Ok(id) => {
                tracing::info!(account = %id, "account created");
                Ok(AccountRow {
                    id,
                    email: email.as_str().to_string(),
                    cart_id: cart_id.to_string(),
                    cart_token: None,
                })
            }
            Err(Taken) => Err(SignupError::Taken.into()),
        }
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
