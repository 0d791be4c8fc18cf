use leptos::prelude::*;

/// Any path but `/`.
#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <div class="app">
            <header class="top">
                <p class="brand">
                    <super::icons::Logo />
                    <span>"Lookout"</span>
                </p>
            </header>
            <main class="page">
                <div class="card not-found">
                    <h1 class="card-title">"Page not found"</h1>
                    <p>"There is nothing at this address. " <a href="/">"Go to Lookout"</a> "."</p>
                </div>
            </main>
        </div>
    }
}
