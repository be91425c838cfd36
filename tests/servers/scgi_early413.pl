#!/usr/bin/perl
# scgi_early413.pl - an SCGI application server on Debian's SCGI library
# (libscgi-perl), for linger's integration tests.
#
# One request per connection, one connection at a time. A request whose
# body is announced over --limit bytes (65536) gets a CGI-style
# "Status: 413" answer at once, its body never read, and the connection is
# closed; smaller bodies are read in full and answered 200 with their size.
# The announced size is the client's Content-Length (HTTP_CONTENT_LENGTH)
# when nginx passes it: with scgi_request_buffering off, nginx 1.22 sends
# as CONTENT_LENGTH only the body bytes it holds at that moment.
#
# Usage: scgi_early413.pl --port N [--port-file PATH] [--limit BYTES]
use strict;
use warnings;
use Getopt::Long;
use IO::Socket::INET;
use SCGI;

my ($port, $port_file, $limit) = (0, undef, 65536);
GetOptions("port=i" => \$port, "port-file=s" => \$port_file, "limit=i" => \$limit)
    or die "usage: scgi_early413.pl --port N [--port-file PATH] [--limit BYTES]\n";
my $listener = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $port, Listen => 64,
                                     ReuseAddr => 1) or die "scgi_early413: listen: $!\n";
if (defined $port_file) {
    my $tmp = "$port_file.tmp.$$";
    open(my $f, ">", $tmp) or die "scgi_early413: $tmp: $!\n";
    print $f $listener->sockport, "\n";
    close $f;
    rename $tmp, $port_file or die "scgi_early413: rename: $!\n";
}
$SIG{TERM} = sub { exit 0 };
my $scgi = SCGI->new($listener, blocking => 1);
while (my $request = $scgi->accept) {
    my $c = $request->connection;
    eval { $request->read_env; 1 } or next;
    my $length = $request->env->{CONTENT_LENGTH} || 0;
    my $announced = $request->env->{HTTP_CONTENT_LENGTH} || $length;
    my ($status, $text);
    if ($announced > $limit) {
        ($status, $text) = ("413 Payload Too Large", "too large\n");
    } else {
        my ($got, $buf) = (0, "");
        while ($got < $length) {
            my $n = read($c, $buf, $length - $got > 65536 ? 65536 : $length - $got);
            last unless $n;
            $got += $n;
        }
        ($status, $text) = ("200 OK", "received $got bytes\n");
    }
    print $c "Status: $status\r\nContent-Type: text/plain\r\nContent-Length: " . length($text) . "\r\n\r\n$text";
    $c->flush;
    $request->close;
}
