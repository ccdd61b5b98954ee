/// The status page on the ops port (`GET /`): static HTML, CSS and JavaScript compiled into the
/// binary, so it works where the data centre has no internet. The page fetches only its own
/// origin's JSON (`/v1/status`, `/v1/board`, `/v1/stats`), and its Content-Security-Policy forbids
/// anything else. Labels are Vietnamese by default, English with `?lang=en`.
enum StatusPage {
    /// Sent with every page resource: nothing but this origin, no inline script or style.
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    /// The document. `lang` is `vi` or `en`; the script fills in every label and figure.
    static func html(lang: String) -> String {
        let title = lang == "en" ? "Identity verification: status" : "Xác thực danh tính: trạng thái"
        return """
            <!DOCTYPE html>
            <html lang="\(lang)">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(title)</title>
            <link rel="icon" href="data:,">
            <link rel="stylesheet" href="/status/page.css">
            <script src="/status/page.js" defer></script>
            </head>
            <body data-lang="\(lang)" data-state="loading">
            <header>
              <h1 id="title" data-label="title">\(title)</h1>
              <nav id="languages"><a href="?lang=vi" id="lang-vi">Tiếng Việt</a> · <a href="?lang=en" id="lang-en">English</a></nav>
              <p class="muted"><span data-label="updated"></span> <time id="updated"></time> <span id="failure" class="failure" hidden></span></p>
            </header>
            <main>
              <section id="live">
                <div class="card" id="card-lag">
                  <h2 data-label="lag"></h2>
                  <table id="lag"><thead><tr><th data-label="topic"></th><th class="n" data-label="messages"></th><th class="n" data-label="seconds"></th></tr></thead><tbody></tbody></table>
                </div>
                <div class="card" id="card-verdicts">
                  <h2 data-label="verdicts"></h2>
                  <p class="muted" id="window"></p>
                  <table id="verdicts"><thead><tr><th data-label="outcome"></th><th class="n" data-label="count"></th></tr></thead><tbody></tbody></table>
                </div>
                <div class="card" id="card-registry">
                  <h2 data-label="registry"></h2>
                  <dl>
                    <dt data-label="callsPerSecond"></dt><dd id="calls"></dd>
                    <dt data-label="quota"></dt><dd id="quota"></dd>
                    <dt data-label="breaker"></dt><dd id="breaker"></dd>
                    <dt data-label="parked"></dt><dd id="parked"></dd>
                  </dl>
                </div>
                <div class="card" id="card-dead-letters">
                  <h2 data-label="deadLetters"></h2>
                  <table id="dead-letters"><thead><tr><th data-label="reason"></th><th class="n" data-label="inWindow"></th><th class="n" data-label="sinceStart"></th></tr></thead><tbody></tbody></table>
                </div>
              </section>
              <section id="board-section" class="card">
                <h2 data-label="board"></h2>
                <form id="pickers">
                  <label><span data-label="month"></span> <select id="month"></select></label>
                  <label><span data-label="agency"></span> <select id="agency"><option value="" data-label="allAgencies"></option></select></label>
                </form>
                <table id="board" data-state="loading">
                  <thead><tr>
                    <th data-label="agency"></th><th class="n" data-label="handled"></th><th class="n" data-label="resolved"></th>
                    <th class="n" data-label="returned"></th><th class="n" data-label="onTime"></th><th class="n" data-label="late"></th>
                    <th class="n" data-label="lateRate"></th>
                  </tr></thead>
                  <tbody></tbody>
                  <tfoot></tfoot>
                </table>
              </section>
            </main>
            </body>
            </html>

            """
    }
}
