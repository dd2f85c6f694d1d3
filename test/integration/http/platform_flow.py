#!/usr/bin/env python3
"""The platform's onboarding, reads, a transaction attributed and revenue over catalog-sync's HTTP
API, from Python's standard library only, as a platform whose backend is not TypeScript would call it.

Configuration from the environment: API_URL (…/api/v1), API_TOKEN (a write token), KEY_ID,
ISSUER_ID, P8_FILE (the .p8 to upload as text), APP_ID (the app to select), WEBHOOK_URL, and
PROJECT_ID. Prints one JSON object of what it saw; exits 1 with the reason on any surprise.
"""

import decimal
import json
import os
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

API = os.environ["API_URL"].rstrip("/")
TOKEN = os.environ["API_TOKEN"]
PROJECT = os.environ["PROJECT_ID"]
DEADLINE_S = float(os.environ.get("DEADLINE_S", "90"))


def call(method, path, body=None, idempotency_key=None, expect=(200,)):
    data = None if body is None else json.dumps(body).encode("utf-8")
    request = urllib.request.Request(API + path, data=data, method=method)
    request.add_header("Authorization", "Bearer " + TOKEN)
    request.add_header("Accept", "application/json")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if idempotency_key:
        request.add_header("Idempotency-Key", idempotency_key)
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            status, payload = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, payload = error.code, error.read()
    answer = json.loads(payload.decode("utf-8")) if payload else None
    if status not in expect:
        fail("%s %s answered %d: %s" % (method, path, status, json.dumps(answer)))
    return answer


def fail(message):
    sys.stderr.write("platform_flow.py: " + message + "\n")
    sys.exit(1)


def project_path(suffix=""):
    return "/projects/" + urllib.parse.quote(PROJECT, safe="") + suffix


def main():
    seen = {}
    with open(os.environ["P8_FILE"], encoding="utf-8") as f:
        private_key = f.read()

    saved = call(
        "PUT",
        project_path("/credentials"),
        {
            "keyId": os.environ["KEY_ID"],
            "issuerId": os.environ["ISSUER_ID"],
            "privateKey": private_key,
            "fileName": os.path.basename(os.environ["P8_FILE"]),
        },
        idempotency_key=str(uuid.uuid4()),
    )
    if saved["status"] != "unverified" or "privateKey" in saved:
        fail("unexpected save answer: %r" % saved)

    verified = call("POST", project_path("/credentials/verify"))
    if verified["status"] != "valid":
        fail("the key did not verify: %r" % verified)
    seen["verifiedApps"] = sorted(app["appStoreId"] for app in verified["apps"])

    apps = call("GET", project_path("/apps"))
    seen["listedApps"] = sorted(app["appStoreId"] for app in apps["apps"])

    selected = call("PUT", project_path("/app"), {"appStoreId": os.environ["APP_ID"]})
    seen["selected"] = selected["appStoreId"]

    key = str(uuid.uuid4())
    requested = call("POST", project_path("/syncs"), {}, idempotency_key=key, expect=(202,))
    again = call("POST", project_path("/syncs"), {}, idempotency_key=key, expect=(202,))
    if again != requested:
        fail("the same Idempotency-Key answered differently: %r then %r" % (requested, again))
    seen["syncJob"] = requested["jobId"]

    # The sync, then its details (prices, offers), as the status says: a succeeded run and no
    # product whose details were never read.
    deadline = time.monotonic() + DEADLINE_S
    while True:
        status = call("GET", project_path("/status?runs=1"))
        runs = status["lastRuns"]
        if runs and runs[0]["status"] == "failed":
            fail("the sync failed: %r" % runs[0])
        if runs and runs[0]["status"] == "succeeded" and status["catalogHealth"]["staleProducts"] == 0:
            break
        if time.monotonic() > deadline:
            fail("no finished sync within %ss; last status: %r" % (DEADLINE_S, status))
        time.sleep(0.25)
    seen["products"] = status["catalog"]["products"]
    seen["runStatus"] = runs[0]["status"]

    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    prices = call("GET", project_path("/prices?" + urllib.parse.urlencode({"territory": "USA", "at": now})))
    priced = [p for p in prices["prices"] if p["customerPrice"] is not None]
    if not priced:
        fail("no price in force in USA: %r" % prices)
    for price in priced:
        if not isinstance(price["customerPrice"], str):
            fail("money must be a decimal string: %r" % price)
    seen["pricesInUSA"] = len(priced)

    product = priced[0]
    attribution = call(
        "GET",
        project_path(
            "/attribution?"
            + urllib.parse.urlencode({"productId": product["productId"], "territory": "USA", "at": now})
        ),
    )
    if attribution["price"]["customerPrice"] != product["customerPrice"]:
        fail("attribution and prices disagree: %r vs %r" % (attribution["price"], product))
    seen["attributed"] = {
        "productId": attribution["productId"],
        "customerPrice": attribution["price"]["customerPrice"],
        "proceeds": attribution["proceeds"]["firstYear"],
        "graceDays": attribution["rule"]["graceDays"] if attribution["rule"] else None,
    }

    # A purchase the platform verified already, sent decoded with Apple's field names: a monthly
    # subscription of the synced catalog bought yesterday at today's USA price.
    products = call("GET", project_path("/products?includeRemoved=false"))["products"]
    subscriptions = {p["productId"] for p in products if p["kind"] == "auto_renewable_subscription"}
    sub = next((p for p in priced if p["productId"] in subscriptions and p["proceeds"] is not None), None)
    if sub is None:
        fail("no priced subscription in USA: %r" % priced)
    purchased_ms = (int(time.time()) - 86400) * 1000
    transaction = {
        "transactionId": "7000000001",
        "originalTransactionId": "7000000001",
        "bundleId": selected["bundleId"],
        "productId": sub["productId"],
        "purchaseDate": purchased_ms,
        "originalPurchaseDate": purchased_ms,
        "expiresDate": purchased_ms + 30 * 86400 * 1000,
        "type": "Auto-Renewable Subscription",
        "inAppOwnershipType": "PURCHASED",
        "transactionReason": "PURCHASE",
        "environment": "Production",
        "storefront": "USA",
        "storefrontId": "143441",
        # Milliunits, exactly (money is never a float).
        "price": int(decimal.Decimal(sub["customerPrice"]) * 1000),
        "currency": sub["currency"],
        "signedDate": purchased_ms,
    }
    attributed = call(
        "POST",
        project_path("/transactions/attribution"),
        {"transactions": [{"transaction": transaction}]},
        idempotency_key=str(uuid.uuid4()),
    )
    result = attributed["results"][0]
    if result["status"] != "stored" or len(result["attributions"]) != 1:
        fail("the transaction was not stored: %r" % attributed)
    stored = result["attributions"][0]
    if stored["customerPrice"] != sub["customerPrice"] or stored["proceeds"] != sub["proceeds"]:
        fail("the stored attribution disagrees with the price in force: %r vs %r" % (stored, sub))
    seen["storedAttribution"] = {
        "transactionId": stored["transactionId"],
        "kind": stored["kind"],
        "basis": stored["basis"],
        "currency": stored["currency"],
        "customerPrice": stored["customerPrice"],
        "proceeds": stored["proceeds"],
        "revenueDate": stored["revenueDate"],
        "expected": {"customerPrice": sub["customerPrice"], "proceeds": sub["proceeds"]},
    }

    day = time.strftime("%Y-%m-%d", time.gmtime(purchased_ms / 1000))
    tomorrow = time.strftime("%Y-%m-%d", time.gmtime(purchased_ms / 1000 + 86400))
    revenue = call(
        "GET", project_path("/revenue?" + urllib.parse.urlencode({"from": day, "to": tomorrow, "by": "day"}))
    )
    seen["revenue"] = {"rows": revenue["rows"], "totals": revenue["totals"]}

    hook = call(
        "POST",
        "/webhooks",
        {"url": os.environ["WEBHOOK_URL"], "projectId": PROJECT, "eventTypes": ["catalog.changed"]},
        idempotency_key=str(uuid.uuid4()),
        expect=(201,),
    )
    if not hook["secret"].startswith("whsec_"):
        fail("no signing secret in the answer: %r" % hook)
    seen["webhook"] = hook["endpoint"]["id"]

    # A bad request is a problem document naming the field.
    problem = call("PUT", project_path("/app"), {"appStoreID": "1"}, expect=(400,))
    seen["problem"] = {"kind": problem["kind"], "field": problem.get("field")}

    print(json.dumps(seen))


if __name__ == "__main__":
    main()
