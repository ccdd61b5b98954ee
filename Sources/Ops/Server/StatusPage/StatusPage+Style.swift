extension StatusPage {
    /// `GET /status/page.css`.
    static let css = """
        :root { color-scheme: light; --ink: #1d2733; --muted: #5b6776; --line: #d8dee6; --accent: #a4161a; --ok: #1b7f3b; --warn: #b35c00; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.45 system-ui, "Segoe UI", Roboto, "Noto Sans", sans-serif; color: var(--ink); background: #f4f6f8; }
        header { padding: 16px 24px 8px; background: #fff; border-bottom: 3px solid var(--accent); }
        h1 { margin: 0 0 4px; font-size: 22px; }
        h2 { margin: 0 0 8px; font-size: 16px; }
        nav { float: right; margin-top: -30px; }
        nav a { color: var(--ink); }
        main { padding: 16px 24px; }
        #live { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 16px; margin-bottom: 16px; }
        .card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px 16px; min-width: 0; overflow-x: auto; }
        #lag td:first-child { overflow-wrap: anywhere; }
        table { border-collapse: collapse; width: 100%; }
        th, td { padding: 4px 8px; border-bottom: 1px solid var(--line); text-align: left; }
        th { font-weight: 600; color: var(--muted); }
        .n { text-align: right; font-variant-numeric: tabular-nums; }
        tfoot td { font-weight: 600; border-top: 2px solid var(--ink); }
        dl { display: grid; grid-template-columns: auto 1fr; gap: 4px 12px; margin: 0; }
        dt { color: var(--muted); }
        dd { margin: 0; font-variant-numeric: tabular-nums; }
        .muted { color: var(--muted); margin: 0 0 6px; }
        .failure { color: var(--accent); font-weight: 600; }
        .state-closed { color: var(--ok); }
        .state-half_open { color: var(--warn); }
        .state-open { color: var(--accent); font-weight: 600; }
        form { margin: 0 0 8px; display: flex; gap: 16px; flex-wrap: wrap; }
        select { font: inherit; padding: 2px 4px; }
        .empty { color: var(--muted); font-style: italic; }
        """
}
