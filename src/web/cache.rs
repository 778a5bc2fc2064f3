//! Pages that list every user, rendered once per refresh and shared by every request
//! until the next: with thousands of users they take seconds to build, and concurrent
//! readers must not each build their own (nor delay the health probes while they do).

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Bytes;

/// Which page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Page {
    /// `/users`.
    Users,
    /// `/api/v1/users`.
    UsersJson,
    /// `/accounts`.
    Accounts,
    /// `/api/v1/accounts`.
    AccountsJson,
}

/// A page and its server filter.
type Key = (Page, Option<String>);

/// The last rendering of each page and server filter, with the fleet stamp it shows.
#[derive(Debug, Default)]
pub struct Pages {
    done: Mutex<HashMap<Key, (u64, Bytes)>>,
    /// Held while rendering, so concurrent requests wait for one rendering.
    rendering: tokio::sync::Mutex<()>,
}

impl Pages {
    /// The page for `filter` as of `stamp`, rendered by `render` only if no request
    /// rendered it for that stamp yet. `filter` must name a known server (or none), so
    /// the cache holds at most one entry per page and server.
    pub async fn get(
        &self,
        page: Page,
        filter: Option<&str>,
        stamp: u64,
        render: impl FnOnce() -> String + Send + 'static,
    ) -> Bytes {
        let key = (page, filter.map(str::to_string));
        if let Some(hit) = self.lookup(&key, stamp) {
            return hit;
        }
        let _turn = self.rendering.lock().await;
        if let Some(hit) = self.lookup(&key, stamp) {
            return hit;
        }
        // Off the runtime's threads: a long rendering must not hold up other requests.
        let body = match tokio::task::spawn_blocking(render).await {
            Ok(text) => Bytes::from(text),
            Err(_) => return Bytes::from_static(b"rendering failed\n"),
        };
        if let Ok(mut done) = self.done.lock() {
            done.insert(key, (stamp, body.clone()));
        }
        body
    }

    fn lookup(&self, key: &Key, stamp: u64) -> Option<Bytes> {
        let done = self.done.lock().ok()?;
        done.get(key).filter(|(s, _)| *s == stamp).map(|(_, b)| b.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    #[tokio::test(flavor = "multi_thread")]
    async fn concurrent_readers_share_one_rendering_per_stamp_and_filter() {
        let pages = Arc::new(Pages::default());
        let renders = Arc::new(AtomicUsize::new(0));
        let read = |filter: Option<&'static str>, stamp: u64| {
            let (pages, renders) = (pages.clone(), renders.clone());
            async move {
                pages
                    .get(Page::Users, filter, stamp, move || {
                        renders.fetch_add(1, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        format!("{filter:?}@{stamp}")
                    })
                    .await
            }
        };
        let bodies = futures_util::future::join_all((0..8).map(|_| read(None, 1))).await;
        assert!(bodies.iter().all(|b| b == "None@1"));
        assert_eq!(renders.load(Ordering::SeqCst), 1, "eight readers, one rendering");
        assert_eq!(read(Some("home"), 1).await, "Some(\"home\")@1");
        assert_eq!(read(None, 2).await, "None@2", "a new refresh renders again");
        assert_eq!(read(None, 2).await, "None@2");
        assert_eq!(renders.load(Ordering::SeqCst), 3);
    }
}
