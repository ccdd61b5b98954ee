#!/usr/bin/env python3
"""Checks the status page on the ops port in a real browser (headless Chromium + chromedriver).

    scripts/status-page-check.py --url http://127.0.0.1:8080 --month 2026-11 \
        --agency H23.45.10 --expect-total-handled 10 --artefacts .build/test-artefacts/status-page

Fails (exit 1, one line per problem) when the page logs a console error, does not reach its ready
state, shows board numbers different from GET /v1/stats for the same month and agency (every agency
row and the all-agencies row, after choosing the month and then the agency with the pickers), or
shows the wrong language, or shows live figures other than GET /v1/status. Saves screenshots (status-page-vi.png, status-page-en.png,
status-page-agency.png) in the artefact folder.
"""
import argparse
import json
import os
import shutil
import sys
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

FIELDS = ["handled", "resolved", "returned", "onTime", "late", "lateRate"]
problems = []


def problem(text):
    problems.append(text)
    print("status-page-check: " + text, file=sys.stderr)


def get_json(base, path, **params):
    query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
    with urllib.request.urlopen(base + path + ("?" + query if query else ""), timeout=10) as response:
        return json.load(response)


def browser():
    options = Options()
    for argument in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1400,1000", "--lang=vi-VN", "--no-first-run", "--disable-extensions",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync"]:
        options.add_argument(argument)
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary:
        options.binary_location = binary
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    return webdriver.Chrome(service=Service(executable_path=driver_path), options=options)


def console_errors(driver, where):
    for entry in driver.get_log("browser"):
        if entry.get("level") in ("SEVERE", "ERROR"):
            problem(f"console error on {where}: {entry.get('message')}")


def wait_ready(driver, where, month=None, agency=None):
    def ready(d):
        table = d.find_element(By.ID, "board")
        body_state = d.find_element(By.TAG_NAME, "body").get_attribute("data-state")
        if body_state == "error":
            return True
        return (body_state == "ready" and table.get_attribute("data-state") == "ready"
                and (month is None or table.get_attribute("data-month") == month)
                and (agency is None or table.get_attribute("data-agency") == agency))
    WebDriverWait(driver, 20).until(ready)
    if driver.find_element(By.TAG_NAME, "body").get_attribute("data-state") == "error":
        problem(f"{where}: the page reports a failure: {driver.find_element(By.ID, 'failure').text}")


def board_rows(driver):
    rows = {}
    for tr in driver.find_elements(By.CSS_SELECTOR, "#board tr[data-agency]"):
        cells = {td.get_attribute("data-field"): td for td in tr.find_elements(By.CSS_SELECTOR, "td[data-field]")}
        rows[tr.get_attribute("data-agency")] = cells
    return rows


def compare(base, month, agency, cells, where):
    expected = get_json(base, "/v1/stats", month=month, agency=agency or None)
    for field in FIELDS:
        td = cells.get(field)
        if td is None:
            problem(f"{where}: agency {agency or 'all'}: no {field} cell")
            continue
        shown = float(td.get_attribute("data-value"))
        if shown != float(expected[field]):
            problem(f"{where}: agency {agency or 'all'} {field}: page {shown}, /v1/stats {expected[field]}")
        if field != "lateRate":
            digits = "".join(ch for ch in td.text if ch.isdigit())
            if digits != str(expected[field]):
                problem(f"{where}: agency {agency or 'all'} {field}: page text {td.text!r}, /v1/stats {expected[field]}")
    return expected


def check_live(driver, status):
    def values(selector):
        return [float(td.get_attribute("data-value")) for td in driver.find_elements(By.CSS_SELECTOR, selector)]

    for reason, count in status["deadLetters"]["total"].items():
        rows = [tr for tr in driver.find_elements(By.CSS_SELECTOR, "#dead-letters tbody tr")
                if tr.find_elements(By.TAG_NAME, "td")[0].text == reason]
        shown = [float(td.get_attribute("data-value")) for td in rows[0].find_elements(By.CSS_SELECTOR, "td[data-value]")] if rows else None
        if shown != [float(status["deadLetters"]["inWindow"].get(reason, 0)), float(count)]:
            problem(f"dead letters {reason}: page {shown}, /v1/status {status['deadLetters']['inWindow'].get(reason, 0)} / {count}")
    for outcome, count in status["verdictsInWindow"].items():
        shown = values(f'#verdicts tr[data-outcome="{outcome}"] td[data-value]')
        if shown != [float(count)]:
            problem(f"verdicts {outcome}: page {shown}, /v1/status {count}")
    for topic in status["lag"]:
        shown = values(f'#lag tr[data-topic="{topic["topic"]}"] td[data-value]')
        if shown != [float(topic["messages"]), float(topic["seconds"])]:
            problem(f"lag {topic['topic']}: page {shown}, /v1/status {topic['messages']} / {topic['seconds']}")
    registry = status["registry"]
    for element, expected in [("quota", registry["quotaCallsPerSecond"]), ("breaker", registry["breaker"]),
                              ("parked", status["parkedChecks"])]:
        shown = driver.find_element(By.ID, element).get_attribute("data-value")
        if expected is None:
            ok = shown == "null"
        elif isinstance(expected, str):
            ok = shown == expected
        else:
            ok = shown not in (None, "null") and float(shown) == float(expected)
        if not ok:
            problem(f"{element}: page {shown}, /v1/status {expected}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True, help="the ops server, http://host:port")
    parser.add_argument("--month", required=True, help="the month to pick, YYYY-MM")
    parser.add_argument("--agency", required=True, help="an agency to pick")
    parser.add_argument("--expect-total-handled", type=int, required=True,
                        help="handled for all agencies in --month, as the test sent them")
    parser.add_argument("--expect-verdicts", type=int, required=True,
                        help="verdicts in the window, all outcomes, as the test counted them")
    parser.add_argument("--artefacts", required=True, help="folder for the screenshots")
    args = parser.parse_args()
    base = args.url.rstrip("/")
    os.makedirs(args.artefacts, exist_ok=True)

    driver = browser()
    try:
        # Vietnamese by default; choose the month with the picker.
        driver.get(base + "/")
        wait_ready(driver, "the default page")
        if driver.find_element(By.TAG_NAME, "html").get_attribute("lang") != "vi":
            problem("the default page is not Vietnamese")
        if driver.find_element(By.ID, "title").text != "Xác thực danh tính: trạng thái":
            problem(f"unexpected Vietnamese title {driver.find_element(By.ID, 'title').text!r}")
        Select(driver.find_element(By.ID, "month")).select_by_value(args.month)
        wait_ready(driver, "month " + args.month, month=args.month, agency="")
        rows = board_rows(driver)
        if "" not in rows:
            problem("no all-agencies row")
        if len(rows) < 2:
            problem(f"the board shows {len(rows) - 1} agencies")
        for agency, cells in rows.items():
            compare(base, args.month, agency, cells, "board")
        total = get_json(base, "/v1/stats", month=args.month)
        if total["handled"] != args.expect_total_handled:
            problem(f"/v1/stats says {total['handled']} handled in {args.month}, the test sent {args.expect_total_handled}")
        if args.month not in driver.current_url:
            problem("the chosen month is not kept in the address")
        driver.save_screenshot(os.path.join(args.artefacts, "status-page-vi.png"))
        console_errors(driver, "the Vietnamese page")

        # One agency with the agency picker.
        Select(driver.find_element(By.ID, "agency")).select_by_value(args.agency)
        wait_ready(driver, "agency " + args.agency, month=args.month, agency=args.agency)
        rows = board_rows(driver)
        if set(rows) != {args.agency, ""}:
            problem(f"with agency {args.agency} picked the board shows {sorted(rows)}")
        if args.agency in rows:
            compare(base, args.month, args.agency, rows[args.agency], "agency picker")
        driver.save_screenshot(os.path.join(args.artefacts, "status-page-agency.png"))
        console_errors(driver, "the agency view")

        # English.
        driver.get(base + "/?lang=en&month=" + urllib.parse.quote(args.month))
        wait_ready(driver, "the English page", month=args.month)
        if driver.find_element(By.TAG_NAME, "html").get_attribute("lang") != "en":
            problem("?lang=en is not English")
        if driver.find_element(By.ID, "title").text != "Identity verification: status":
            problem(f"unexpected English title {driver.find_element(By.ID, 'title').text!r}")
        for agency, cells in board_rows(driver).items():
            compare(base, args.month, agency, cells, "English board")
        # The live part shows what /v1/status answers (the test's counters do not move meanwhile).
        status = get_json(base, "/v1/status")
        if sum(status["verdictsInWindow"].values()) != args.expect_verdicts:
            problem(f"/v1/status counts {status['verdictsInWindow']} verdicts, the test counted {args.expect_verdicts}")
        check_live(driver, status)
        driver.save_screenshot(os.path.join(args.artefacts, "status-page-en.png"))
        console_errors(driver, "the English page")
    finally:
        driver.quit()
    if problems:
        return 1
    print(f"status-page-check: ok ({args.month}, screenshots in {args.artefacts})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
