"""PHP's SoapClient through gunicorn, the real `php` binary: without a WSDL (SOAP encoding) and with ours.

Each test writes a PHP script, runs it and reads what the script got back as JSON. A PHP
warning (reading a property of null, say) is turned into an exception, so it fails the test.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import SOAP

pytestmark = [pytest.mark.transport_only, pytest.mark.slow]

PRELUDE = """<?php
set_error_handler(function (int $level, string $message) { throw new ErrorException($message, 0, $level); });
$p = fn($value, string $name) => new SoapParam($value, $name);
$ticket = fn(string $title, string $queue) => ['Title' => $title, 'Queue' => $queue, 'State' => 'new',
    'Priority' => '3 normal', 'CustomerUser' => 'customer1'];
$article = fn(string $subject, string $body) => ['Subject' => $subject, 'Body' => $body,
    'ContentType' => 'text/plain; charset=utf8'];
"""


@pytest.fixture(scope="session")
def php() -> str:
    path = shutil.which("php")
    if path is None or subprocess.run([path, "-r", "exit(class_exists('SoapClient') ? 0 : 1);"]).returncode:
        message = "these tests need PHP with its SOAP extension (Debian: php-cli php-soap; make test installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def run_php(php: str, directory: Path, script: str, *args: str) -> Any:
    path = directory / "client.php"
    path.write_text(PRELUDE + script)
    done = subprocess.run([php, str(path), *args], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


NON_WSDL = """
$client = new SoapClient(null, ['location' => $argv[1], 'uri' => 'http://www.otrs.org/TicketConnector/']);
$sid = $client->__soapCall('SessionCreate', [$p('root@localhost', 'UserLogin'), $p('root', 'Password')]);
$one = $client->__soapCall('TicketCreate', [$p($sid, 'SessionID'), $p($ticket('PHP one', 'Raw'), 'Ticket'),
    $p($article('From PHP', 'Plain PHP arrays'), 'Article'),
    $p([['Name' => 'OracleText', 'Value' => 'php text'], ['Name' => 'OracleDropdown', 'Value' => 'beta']],
       'DynamicField'),
    $p(['Content' => base64_encode('attached!'), 'ContentType' => 'text/plain', 'Filename' => 'php.txt'],
       'Attachment')]);
$two = $client->__soapCall('TicketCreate', [$p($sid, 'SessionID'), $p($ticket('PHP two', 'Junk'), 'Ticket'),
    $p($article('Second', 'In Junk'), 'Article')]);
$ids = [(int) $one['TicketID'], (int) $two['TicketID']];
$get = fn() => $client->__soapCall('TicketGet', [$p($sid, 'SessionID'), $p($ids, 'TicketID'),
    $p(1, 'DynamicFields'), $p(true, 'AllArticles'), $p(true, 'Attachments')]);
$got = $get();
$queues = array_map(fn($t) => (int) $t->QueueID, $got['Ticket']);
$search = fn(array $queueIDs) => $client->__soapCall('TicketSearch', [$p($sid, 'SessionID'),
    $p($queueIDs, 'QueueIDs'), $p(['PHP one', 'PHP two'], 'Title'), $p(['new', 'open'], 'States')]);
$both = $search($queues);
$second = $search([$queues[1]]);
$updated = $client->__soapCall('TicketUpdate', [$p($sid, 'SessionID'), $p($ids[0], 'TicketID'),
    $p(['State' => 'open', 'Title' => 'PHP one, updated'], 'Ticket'), $p($article('Update', 'Now open'), 'Article'),
    $p(['Name' => 'OracleText', 'Value' => 'updated'], 'DynamicField')]);
$after = $get();
echo json_encode(compact('sid', 'one', 'two', 'got', 'both', 'second', 'updated', 'after'));
"""


def fields(ticket: dict) -> dict[str, str]:
    return {field["Name"]: field["Value"] for field in ticket["DynamicField"]}


def test_php_without_a_wsdl_sends_maps_and_arrays(server, php, tmp_path):
    result = run_php(php, tmp_path, NON_WSDL, f"{server.url}{SOAP}")
    assert len(result["sid"]) == 32
    ids = [result["one"]["TicketID"], result["two"]["TicketID"]]
    assert all(ids) and result["one"]["ArticleID"]

    one, two = result["got"]["Ticket"]
    assert [one["TicketID"], two["TicketID"]] == ids
    assert [one["Title"], two["Title"]] == ["PHP one", "PHP two"] and two["Queue"] == "Junk"
    assert fields(one) == {"OracleText": "php text", "OracleDropdown": "beta"}
    attachment = one["Article"]["Attachment"]
    assert attachment["Filename"] == "php.txt" and base64.b64decode(attachment["Content"]) == b"attached!"

    # both queues of the list count; a list of one finds only the ticket in that queue
    assert sorted(result["both"]["TicketID"]) == sorted(ids)
    assert result["second"] == ids[1]

    assert result["updated"]["TicketID"] == ids[0]
    after = result["after"]["Ticket"][0]
    assert after["Title"] == "PHP one, updated" and after["State"] == "open"
    assert fields(after)["OracleText"] == "updated"
    assert [a["Subject"] for a in after["Article"]] == ["From PHP", "Update"]


WSDL = """
$client = new SoapClient($argv[1], ['cache_wsdl' => WSDL_CACHE_NONE]);
$sid = $client->SessionCreate(['UserLogin' => 'root@localhost', 'Password' => 'root'])->SessionID;
$created = $client->TicketCreate(['SessionID' => $sid, 'Ticket' => $ticket('PHP with the WSDL', 'Raw'),
    'Article' => $article('WSDL mode', 'Typed by the WSDL'),
    'DynamicField' => [['Name' => 'OracleText', 'Value' => 'wsdl text'],
                       ['Name' => 'OracleDropdown', 'Value' => 'alpha']]]);
$got = $client->TicketGet(['SessionID' => $sid, 'TicketID' => [$created->TicketID], 'DynamicFields' => 1,
    'AllArticles' => 1]);
$found = $client->TicketSearch(['SessionID' => $sid, 'Title' => ['PHP with the WSDL']]);
$none = $client->TicketSearch(['SessionID' => $sid, 'Title' => ['no such ticket, not anywhere']]);
echo json_encode(['sid' => $sid, 'created' => $created, 'got' => $got, 'found' => $found, 'none' => $none,
    'none_is_null' => $none === null, 'none_is_empty' => empty($none)]);
"""


def test_php_with_our_wsdl(server, php, tmp_path):
    result = run_php(php, tmp_path, WSDL, f"{server.url}{SOAP}?wsdl")
    assert len(result["sid"]) == 32
    created = result["created"]
    assert created["TicketID"] and created["TicketNumber"] and "Error" not in created
    ticket = result["got"]["Ticket"]  # PHP gives a single repeated element as the element itself
    assert ticket["Title"] == "PHP with the WSDL" and ticket["Article"]["Body"] == "Typed by the WSDL"
    assert fields(ticket) == {"OracleText": "wsdl text", "OracleDropdown": "alpha"}
    assert result["found"] == {"TicketID": created["TicketID"]}
    # Znuny's xsi:nil answer: PHP code written for Znuny tests `$result === null` or `empty($result)`
    assert result["none"] is None and result["none_is_null"] and result["none_is_empty"]
