extension StatusPage {
    /// `GET /status/page.js`: labels, fetches and rendering. Figures only; nothing personal ever
    /// reaches the page.
    static let script = #"""
        "use strict";
        (function () {
          const LABELS = {
            vi: {
              title: "Xác thực danh tính: trạng thái", updated: "Cập nhật lúc", lag: "Độ trễ hàng đợi",
              topic: "Chủ đề", messages: "Tin nhắn", seconds: "Giây", verdicts: "Kết quả xác thực",
              outcome: "Kết quả", count: "Số lượng", registry: "Cơ sở dữ liệu quốc gia về dân cư",
              callsPerSecond: "Lượt gọi mỗi giây", quota: "Hạn mức (lượt/giây)", breaker: "Cầu dao",
              parked: "Yêu cầu chờ xử lý lại", deadLetters: "Thư lỗi (dead letters)", reason: "Lý do",
              inWindow: "Trong cửa sổ", sinceStart: "Từ khi khởi động", board: "Kết quả giải quyết TTHC",
              month: "Tháng", agency: "Cơ quan", allAgencies: "Tất cả cơ quan", handled: "Đã giải quyết",
              resolved: "Có kết quả", returned: "Trả lại", onTime: "Đúng hạn", late: "Quá hạn",
              lateRate: "Tỷ lệ quá hạn", none: "Không có dữ liệu", windowText: "Trong {m} phút gần nhất",
              windowSecondsText: "Trong {s} giây gần nhất",
              closed: "Đóng (bình thường)", half_open: "Nửa mở (đang thử)", open: "Mở (tạm ngừng gọi)",
              verified: "Khớp", mismatch: "Không khớp", invalid: "Không hợp lệ", unavailable: "Không tra cứu được",
              failed: "Không tải được dữ liệu", unknown: "—",
            },
            en: {
              title: "Identity verification: status", updated: "Updated at", lag: "Queue lag",
              topic: "Topic", messages: "Messages", seconds: "Seconds", verdicts: "Verdicts",
              outcome: "Outcome", count: "Count", registry: "Population registry",
              callsPerSecond: "Calls per second", quota: "Quota (calls/second)", breaker: "Circuit breaker",
              parked: "Parked checks", deadLetters: "Dead letters", reason: "Reason",
              inWindow: "In window", sinceStart: "Since start", board: "Processing board",
              month: "Month", agency: "Agency", allAgencies: "All agencies", handled: "Handled",
              resolved: "Resolved", returned: "Returned", onTime: "On time", late: "Late",
              lateRate: "Late rate", none: "No data", windowText: "Last {m} minutes",
              windowSecondsText: "Last {s} seconds",
              closed: "Closed (normal)", half_open: "Half-open (probing)", open: "Open (calls paused)",
              verified: "Verified", mismatch: "Mismatch", invalid: "Invalid", unavailable: "Unavailable",
              failed: "Could not load the data", unknown: "—",
            },
          };
          const lang = document.body.dataset.lang === "en" ? "en" : "vi";
          const T = LABELS[lang];
          const locale = lang === "en" ? "en-GB" : "vi-VN";
          const integer = new Intl.NumberFormat(locale, { maximumFractionDigits: 0 });
          const decimal = new Intl.NumberFormat(locale, { maximumFractionDigits: 2 });
          const percent = new Intl.NumberFormat(locale, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
          const params = new URLSearchParams(window.location.search);
          const state = { month: params.get("month") || "", agency: params.get("agency") || "", loaded: { live: false, board: false } };
          const FIELDS = ["handled", "resolved", "returned", "onTime", "late", "lateRate"];

          function $(id) { return document.getElementById(id); }
          function text(value) { return value === null || value === undefined ? T.unknown : String(value); }
          function cell(tag, content, cls) {
            const element = document.createElement(tag);
            element.textContent = content;
            if (cls) element.className = cls;
            return element;
          }
          function row(cells) {
            const tr = document.createElement("tr");
            cells.forEach((c) => tr.appendChild(c));
            return tr;
          }
          function valued(content, value) {
            const td = cell("td", content, "n");
            td.dataset.value = String(value);
            return td;
          }
          function emptyRow(columns) {
            const td = cell("td", T.none, "empty");
            td.colSpan = columns;
            return row([td]);
          }
          function applyLabels() {
            document.querySelectorAll("[data-label]").forEach((element) => {
              const key = element.dataset.label;
              if (T[key] !== undefined) element.textContent = T[key];
            });
          }
          function updateLinks() {
            ["vi", "en"].forEach((code) => {
              const query = new URLSearchParams();
              query.set("lang", code);
              if (state.month) query.set("month", state.month);
              if (state.agency) query.set("agency", state.agency);
              $("lang-" + code).href = "?" + query.toString();
            });
            const query = new URLSearchParams();
            if (lang === "en") query.set("lang", "en");
            if (state.month) query.set("month", state.month);
            if (state.agency) query.set("agency", state.agency);
            const search = query.toString();
            window.history.replaceState(null, "", search ? "?" + search : window.location.pathname);
          }
          async function getJSON(path) {
            const response = await fetch(path, { headers: { Accept: "application/json" }, cache: "no-store" });
            if (!response.ok) throw new Error(path + " " + response.status);
            return response.json();
          }
          function showFailure(error) {
            const failure = $("failure");
            failure.hidden = false;
            failure.textContent = T.failed + " (" + (error && error.message ? error.message : error) + ")";
            document.body.dataset.state = "error";
          }
          function markReady(part) {
            state.loaded[part] = true;
            if (state.loaded.live && state.loaded.board && document.body.dataset.state !== "error") document.body.dataset.state = "ready";
          }

          function renderLive(status) {
            $("updated").textContent = new Date(status.generatedAt).toLocaleString(locale);
            const lag = $("lag").tBodies[0];
            lag.replaceChildren(...(status.lag.length ? status.lag.map((t) => {
              const tr = row([cell("td", t.topic), valued(integer.format(t.messages), t.messages), valued(decimal.format(t.seconds), t.seconds)]);
              tr.dataset.topic = t.topic;
              return tr;
            }) : [emptyRow(3)]));
            $("window").textContent = status.windowSeconds < 120
              ? T.windowSecondsText.replace("{s}", integer.format(status.windowSeconds))
              : T.windowText.replace("{m}", integer.format(Math.round(status.windowSeconds / 60)));
            const outcomes = Object.keys(status.verdictsInWindow);
            $("verdicts").tBodies[0].replaceChildren(...(outcomes.length ? outcomes.map((o) => {
              const tr = row([cell("td", T[o] || o), valued(integer.format(status.verdictsInWindow[o]), status.verdictsInWindow[o])]);
              tr.dataset.outcome = o;
              return tr;
            }) : [emptyRow(2)]));
            const registry = status.registry;
            $("calls").textContent = decimal.format(registry.callsPerSecond);
            $("calls").dataset.value = String(registry.callsPerSecond);
            $("quota").dataset.value = String(registry.quotaCallsPerSecond);
            $("breaker").dataset.value = String(registry.breaker);
            $("parked").dataset.value = String(status.parkedChecks);
            $("quota").textContent = registry.quotaCallsPerSecond === null ? T.unknown
              : integer.format(registry.quotaCallsPerSecond) + " (" + percent.format(registry.callsPerSecond / Math.max(1, registry.quotaCallsPerSecond)) + ")";
            const breaker = $("breaker");
            breaker.textContent = registry.breaker ? (T[registry.breaker] || registry.breaker) : T.unknown;
            breaker.className = registry.breaker ? "state-" + registry.breaker : "";
            $("parked").textContent = status.parkedChecks === null ? T.unknown : integer.format(status.parkedChecks);
            const reasons = Object.keys(status.deadLetters.total);
            $("dead-letters").tBodies[0].replaceChildren(...(reasons.length ? reasons.map((r) => row([
              cell("td", r), valued(integer.format(status.deadLetters.inWindow[r] || 0), status.deadLetters.inWindow[r] || 0),
              valued(integer.format(status.deadLetters.total[r]), status.deadLetters.total[r]),
            ])) : [emptyRow(3)]));
          }

          function figuresRow(figures, name) {
            const tr = row([cell("td", name)]);
            tr.dataset.agency = figures.agency === null ? "" : figures.agency;
            FIELDS.forEach((field) => {
              const value = figures[field];
              const td = cell("td", field === "lateRate" ? percent.format(value) : integer.format(value), "n");
              td.dataset.field = field;
              td.dataset.value = String(value);
              tr.appendChild(td);
            });
            return tr;
          }
          function fillPickers(board) {
            const months = new Set(board.months);
            months.add(board.month);
            const monthSelect = $("month");
            monthSelect.replaceChildren(...Array.from(months).sort().reverse().map((m) => {
              const option = cell("option", m);
              option.value = m;
              option.selected = m === board.month;
              return option;
            }));
            const agencies = board.agencies.map((a) => a.agency);
            if (state.agency && !agencies.includes(state.agency)) agencies.push(state.agency);
            const agencySelect = $("agency");
            const all = cell("option", T.allAgencies);
            all.value = "";
            agencySelect.replaceChildren(all, ...agencies.sort().map((a) => {
              const option = cell("option", a);
              option.value = a;
              return option;
            }));
            agencySelect.value = state.agency;
          }
          async function loadBoard() {
            const table = $("board");
            table.dataset.state = "loading";
            const query = state.month ? "?month=" + encodeURIComponent(state.month) : "";
            const board = await getJSON("/v1/board" + query);
            state.month = board.month;
            let rows = board.agencies;
            if (state.agency) {
              const one = await getJSON("/v1/stats?month=" + encodeURIComponent(board.month) + "&agency=" + encodeURIComponent(state.agency));
              rows = [one];
            }
            fillPickers(board);
            table.tBodies[0].replaceChildren(...(rows.length ? rows.map((f) => figuresRow(f, f.agency)) : [emptyRow(7)]));
            table.tFoot.replaceChildren(figuresRow(board.total, T.allAgencies));
            table.dataset.month = board.month;
            table.dataset.agency = state.agency;
            table.dataset.state = "ready";
            updateLinks();
            markReady("board");
          }
          async function loadLive() {
            renderLive(await getJSON("/v1/status"));
            markReady("live");
          }
          function refresh(load) {
            load().catch(showFailure);
          }

          window.addEventListener("error", (event) => showFailure(event.message));
          applyLabels();
          $("month").addEventListener("change", (event) => { state.month = event.target.value; refresh(loadBoard); });
          $("agency").addEventListener("change", (event) => { state.agency = event.target.value; refresh(loadBoard); });
          refresh(loadLive);
          refresh(loadBoard);
          window.setInterval(() => refresh(loadLive), 10000);
          window.setInterval(() => refresh(loadBoard), 60000);
        })();
        """#
}
