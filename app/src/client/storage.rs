//! What the page keeps for the tab (session storage): the API key, the chosen model and
//! whether to look for small objects.
//! Nothing goes in the URL; closing the tab forgets both.

const KEY: &str = "lookout.api_key";
const MODEL: &str = "lookout.model";
const TILE: &str = "lookout.tile";

fn session() -> Option<web_sys::Storage> {
    web_sys::window()?.session_storage().ok().flatten()
}

fn get(name: &str) -> Option<String> {
    session()?
        .get_item(name)
        .ok()
        .flatten()
        .filter(|v| !v.is_empty())
}

fn set(name: &str, value: Option<&str>) {
    if let Some(storage) = session() {
        let _ = match value {
            Some(v) => storage.set_item(name, v),
            None => storage.remove_item(name),
        };
    }
}

/// The API key given in this tab.
pub fn key() -> Option<String> {
    get(KEY)
}

pub fn set_key(key: Option<&str>) {
    set(KEY, key);
}

/// The model chosen in this tab (`None`: the server's default).
pub fn model() -> Option<String> {
    get(MODEL)
}

pub fn set_model(model: Option<&str>) {
    set(MODEL, model);
}

/// Whether "find small objects" is on in this tab.
pub fn tile() -> bool {
    get(TILE).is_some()
}

pub fn set_tile(on: bool) {
    set(TILE, on.then_some("auto"));
}

/// `Authorization: Bearer <key>` for the server's detection endpoints, when a key was given.
pub fn authorization() -> Option<String> {
    key().map(|k| format!("Bearer {k}"))
}
