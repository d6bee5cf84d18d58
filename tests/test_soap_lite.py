"""Perl's SOAP::Lite, Znuny's own SOAP stack and the client of its manual, against gateway under gunicorn.

The scripts are written the two ways Perl integrators write them: Znuny's documented requester
(the request as raw XML in SOAP::Data->type('xml')) and SOAP::Lite's native Perl data, which it
encodes with xsi:type annotations, SOAPStruct hashes and SOAP-ENC arrays.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.conftest import SOAP, TICKET_NS

pytestmark = [pytest.mark.transport_only, pytest.mark.slow]


@pytest.fixture(autouse=True)
def soap_lite() -> None:
    missing = (
        shutil.which("perl") is None
        or subprocess.run(["perl", "-MSOAP::Lite", "-MJSON::PP", "-e", "1"], capture_output=True).returncode != 0
    )
    if missing:
        message = "Perl's SOAP::Lite (Debian libsoap-lite-perl) is missing; `make test` installs it"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


PROLOGUE = r"""
use strict; use warnings;
use SOAP::Lite;
use JSON::PP;
my ($url, $ns) = @ARGV;
my $client = SOAP::Lite->uri($ns)->proxy($url);
sub call {
    my ($operation, @data) = @_;
    my $answer = $client->call($operation => @data);
    die 'fault: ' . $answer->faultstring . "\n" if $answer->fault;
    return $answer->body->{"${operation}Response"};
}
"""


def perl(server, tmp_path, script: str) -> dict:
    path = tmp_path / "client.pl"
    path.write_text(PROLOGUE + script)
    done = subprocess.run(
        ["perl", str(path), f"{server.url}{SOAP}", TICKET_NS], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_znunys_documented_requester_with_raw_xml(server, tmp_path):
    answer = perl(
        server,
        tmp_path,
        r"""
my $created = call('TicketCreate', SOAP::Data->type('xml' => '
    <UserLogin>root@localhost</UserLogin><Password>root</Password>
    <Ticket><Title>From SOAP::Lite</Title><Queue>Raw</Queue><State>new</State><Priority>3 normal</Priority>
            <CustomerUser>customer1</CustomerUser></Ticket>
    <Article><Subject>Perl</Subject><Body>Sent by the manual\'s script</Body>
             <ContentType>text/plain; charset=utf8</ContentType></Article>
    <DynamicField><Name>OracleText</Name><Value>perl value</Value></DynamicField>'));
my $got = call('TicketGet', SOAP::Data->type('xml' => "<UserLogin>root\@localhost</UserLogin>
    <Password>root</Password><TicketID>$created->{TicketID}</TicketID><DynamicFields>1</DynamicFields>
    <AllArticles>1</AllArticles>"));
print encode_json({created => $created, ticket => $got->{Ticket}});
""",
    )
    assert answer["created"]["TicketID"].isdigit() and answer["created"]["TicketNumber"]
    ticket = answer["ticket"]
    assert ticket["Title"] == "From SOAP::Lite" and ticket["CustomerUserID"] == "customer1"
    assert ticket["DynamicField"] == {"Name": "OracleText", "Value": "perl value"}
    assert ticket["Article"]["Body"] == "Sent by the manual's script"


def test_native_perl_data_with_types_structs_and_arrays(server, tmp_path):
    answer = perl(
        server,
        tmp_path,
        r"""
my @login = (SOAP::Data->name(UserLogin => 'root@localhost'), SOAP::Data->name(Password => 'root'));
my $session = call('SessionCreate', @login)->{SessionID};
my @ids;
for my $title ('Perl one', 'Perl two') {
    my $created = call('TicketCreate', SOAP::Data->name(SessionID => $session),
        SOAP::Data->name(Ticket => {Title => $title, Queue => 'Raw', State => 'new', Priority => '3 normal',
                                    CustomerUser => 'customer1'}),
        SOAP::Data->name(Article => {Subject => 'native', Body => 'hash', ContentType => 'text/plain; charset=utf8',
                                     TimeUnit => 1.5}));
    push @ids, $created->{TicketID};
}
my $got = call('TicketGet', SOAP::Data->name(SessionID => $session), SOAP::Data->name(TicketID => [@ids]));
my $found = call('TicketSearch', SOAP::Data->name(SessionID => $session), SOAP::Data->name(Title => 'Perl %'),
                 SOAP::Data->name(QueueIDs => [2, 3]));
print encode_json({ids => \@ids, titles => [map { $_->{Title} } @{ $got->{Ticket} }],
                   units => [map { $_->{TimeUnit} } @{ $got->{Ticket} }], found => $found->{TicketID}});
""",
    )
    assert answer["titles"] == ["Perl one", "Perl two"]
    assert answer["units"] == ["1.5", "1.5"]
    assert sorted(answer["found"]) == sorted(answer["ids"])
