"""The visitor's place: a trusted proxy header counts only when it holds a real country code; a configured .mmdb
gives country, region and city; the embedded RIR data (iptocc) gives the country out of the box; addresses that
are nobody's place are never looked up."""

from __future__ import annotations

import threading

import maxminddb
import pytest
from mmdb_writer import MMDBWriter
from netaddr import IPSet

from zipshort.geoip import CountryLookup, Place, _mmdb_place, country_name, public_address

# Public addresses whose registry allocation has not moved in decades (the embedded data follows the RIRs).
EMBEDDED = [
    ("8.8.8.8", "US"),  # Google, ARIN
    ("9.9.9.9", "US"),  # Quad9, ARIN
    ("81.2.69.142", "GB"),  # MaxMind's own test address, RIPE
    ("193.0.0.1", "NL"),  # RIPE NCC
    ("133.1.1.1", "JP"),  # Osaka University, APNIC
    ("200.160.0.1", "BR"),  # NIC.br, LACNIC
    ("2001:4860:4860::8888", "US"),  # Google public DNS
    ("2001:67c:2e8::1", "NL"),  # RIPE NCC
    ("2001:200::1", "JP"),  # WIDE project
    ("::ffff:8.8.8.8", "US"),  # an IPv4 visitor on a dual-stack socket
]
NOBODY = ["10.1.2.3", "172.16.0.1", "192.168.1.1", "127.0.0.1", "::1", "169.254.1.1", "fe80::1", "0.0.0.0", "::",
          "240.0.0.1", "224.0.0.1", "fc00::1", "::ffff:192.168.1.1", "fe80::1%eth0"]
GARBAGE = ["", "garbage", "8.8.8", "8.8.8.8.8", " 8.8.8.8", "999.1.1.1", "2001:::1", "8.8.8.8/32", "\x00"]

LONDON = {"country": {"iso_code": "GB", "names": {"en": "United Kingdom"}},
          "subdivisions": [{"iso_code": "ENG", "names": {"en": "England", "de": "England"}},
                           {"iso_code": "X", "names": {"en": "Greater London"}}],
          "city": {"names": {"en": "London", "fr": "Londres"}},
          "location": {"latitude": 51.5085, "longitude": -0.1257, "time_zone": "Europe/London", "accuracy_radius": 5}}
PARIS = {"country": {"iso_code": "FR"}, "subdivisions": [{"names": {"en": "Île-de-France"}}],
         "city": {"names": {"en": "Paris"}}}
BERLIN = {"country": {"iso_code": "de"}, "city": {"names": {"de": "Berlin"}},  # no English name, no subdivision
          "location": {"latitude": 52.52, "time_zone": "Europe/Berlin"}}  # half a position
IN_LONDON = Place("GB", "England", "London", 51.5085, -0.1257, "Europe/London")
IN_BERLIN = Place("DE", None, None, None, None, "Europe/Berlin")
ONLY_REGISTERED = {"registered_country": {"iso_code": "NL"}}


@pytest.fixture(scope="module")
def city_db(tmp_path_factory) -> str:
    """A GeoLite2-City style database for the documentation ranges."""
    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-City", languages=["en"], ipv4_compatible=True)
    writer.insert_network(IPSet(["192.0.2.0/24"]), LONDON)
    writer.insert_network(IPSet(["198.51.100.0/24"]), PARIS)
    writer.insert_network(IPSet(["2001:db8::/32"]), BERLIN)
    writer.insert_network(IPSet(["203.0.113.0/24"]), ONLY_REGISTERED)
    path = str(tmp_path_factory.mktemp("geoip") / "city.mmdb")
    writer.to_db_file(path)
    return path


@pytest.fixture(scope="module")
def ipv4_country_db(tmp_path_factory) -> str:
    writer = MMDBWriter(ip_version=4, database_type="GeoLite2-Country")
    writer.insert_network(IPSet(["192.0.2.0/24"]), {"country": {"iso_code": "SE"}})
    path = str(tmp_path_factory.mktemp("geoip") / "country.mmdb")
    writer.to_db_file(path)
    return path


# --- the header (smart-link rules and places) ------------------------------------------------------------------

@pytest.mark.parametrize("header,expected", [("us", "US"), (" gb ", "GB"), ("XX", None), ("T1", None), ("USA", None),
                                             ("", None), ("U1", None), ("é", None)])
def test_the_country_header_is_trusted_only_as_a_real_country_code(header, expected):
    lookup = CountryLookup("CF-IPCountry", "")
    assert lookup({"CF-IPCountry": header}, "10.0.0.1") == expected
    assert lookup.place(header, "10.0.0.1") == Place(expected, None, None)


def test_without_a_configured_header_a_header_value_is_ignored():
    assert CountryLookup("", "")({"CF-IPCountry": "FR"}, "8.8.8.8") == "US"
    assert CountryLookup("", "").place("FR", "8.8.8.8") == Place("US", None, None)


def test_a_bad_header_value_falls_back_to_the_address():
    lookup = CountryLookup("CF-IPCountry", "")
    assert lookup({"CF-IPCountry": "XX"}, "8.8.8.8") == "US"
    assert lookup.place("T1", "8.8.8.8") == Place("US", None, None)
    assert lookup.place(None, "8.8.8.8") == Place("US", None, None)


def test_the_header_wins_over_every_database(city_db):
    lookup = CountryLookup("CF-IPCountry", city_db)
    assert lookup({"CF-IPCountry": "US"}, "192.0.2.10") == "US"
    # the city database disagrees on the country: its region and city are not this visitor's
    assert lookup.place("US", "192.0.2.10") == Place("US", None, None)
    # it agrees: region and city come with it
    assert lookup.place("gb", "192.0.2.10") == IN_LONDON
    assert CountryLookup("CF-IPCountry", "").place("JP", "8.8.8.8") == Place("JP", None, None)


# --- the embedded database --------------------------------------------------------------------------------------

@pytest.mark.parametrize("address,country", EMBEDDED)
def test_the_embedded_database_knows_countries_out_of_the_box(address, country):
    lookup = CountryLookup("", "")
    assert lookup({}, address) == country
    assert lookup.place(None, address) == Place(country, None, None)


@pytest.mark.parametrize("address", NOBODY + GARBAGE)
def test_private_reserved_and_invalid_addresses_have_no_place(address, city_db):
    assert public_address(address) is None
    for lookup in (CountryLookup("", ""), CountryLookup("CF-IPCountry", city_db)):
        assert lookup({}, address) is None
        assert lookup.place(None, address) == Place(None, None, None)


def test_nothing_is_opened_for_an_address_with_no_place(tmp_path):
    # the database file does not exist: any attempt to open it would raise
    lookup = CountryLookup("", str(tmp_path / "missing.mmdb"))
    for address in NOBODY + GARBAGE:
        assert lookup.place(None, address) == Place(None, None, None)
    with pytest.raises(FileNotFoundError):
        lookup.place(None, "8.8.8.8")


def test_documentation_addresses_are_unknown_to_the_embedded_database():
    assert CountryLookup("", "").place(None, "192.0.2.1") == Place(None, None, None)


# --- a configured .mmdb -----------------------------------------------------------------------------------------

def test_the_database_is_a_real_city_database(city_db):
    with maxminddb.open_database(city_db) as reader:
        assert reader.metadata().database_type == "GeoLite2-City"
        assert reader.get("192.0.2.1") == LONDON


@pytest.mark.parametrize("address,place", [
    ("192.0.2.1", IN_LONDON),
    ("192.0.2.255", IN_LONDON),
    ("::ffff:192.0.2.9", IN_LONDON),
    ("198.51.100.77", Place("FR", "Île-de-France", "Paris")),
    ("2001:db8::1", IN_BERLIN),
    ("2001:db8:ffff::5", IN_BERLIN),
    ("203.0.113.5", Place("NL", None, None)),
])
def test_a_city_database_gives_region_and_city(city_db, address, place):
    lookup = CountryLookup("CF-IPCountry", city_db)
    assert lookup.place(None, address) == place
    assert lookup.place("", address) == place
    assert lookup({}, address) == place.country


def test_addresses_the_database_does_not_hold_fall_back_to_the_embedded_one(city_db):
    lookup = CountryLookup("", city_db)
    assert lookup.place(None, "8.8.8.8") == Place("US", None, None)
    assert lookup({}, "2001:4860:4860::8888") == "US"


def test_an_ipv4_only_database_answers_ipv6_visitors_from_the_embedded_one(ipv4_country_db):
    lookup = CountryLookup("", ipv4_country_db)
    assert lookup.place(None, "192.0.2.3") == Place("SE", None, None)
    assert lookup.place(None, "2001:4860:4860::8888") == Place("US", None, None)


def test_one_lookup_serves_many_threads(city_db):
    lookup = CountryLookup("", city_db)  # opened lazily, by whichever thread comes first
    cases = [("192.0.2.1", IN_LONDON), ("8.8.8.8", Place("US", None, None)),
             ("10.0.0.1", Place(None, None, None)), ("2001:db8::1", IN_BERLIN)]
    errors: list[str] = []
    start = threading.Barrier(12)

    def work() -> None:
        start.wait()
        for _ in range(200):
            for address, place in cases:
                if (got := lookup.place(None, address)) != place:
                    errors.append(f"{address}: {got}")

    threads = [threading.Thread(target=work) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


# --- the cache -----------------------------------------------------------------------------------------------

def test_the_cache_of_places_stays_within_its_bound():
    lookup = CountryLookup("CF-IPCountry", "", max_entries=4)
    for _ in range(3):  # more (header value, address) pairs than entries: every round evicts and looks up again
        for address, country in EMBEDDED:
            assert lookup.place(None, address) == Place(country, None, None)
            assert lookup.place("FR", address) == Place("FR", None, None)  # the header value is part of the key
            assert lookup({"CF-IPCountry": "XX"}, address) == country
            assert lookup.cache_size() <= 4
    assert lookup.cache_size() == 4


def test_without_a_configured_header_one_entry_serves_every_header_value():
    lookup = CountryLookup("", "", max_entries=4)
    assert [lookup.place(value, "8.8.8.8").country for value in (None, "FR", "DE", "xx")] == ["US"] * 4
    assert lookup.cache_size() == 1


def test_overlong_input_is_answered_without_being_cached():
    lookup = CountryLookup("CF-IPCountry", "", max_entries=4)
    assert lookup.place(None, "8" * 200) == Place(None, None, None)
    assert lookup.place(" " * 100 + "us", "8.8.8.8") == Place("US", None, None)
    assert lookup.cache_size() == 0


def test_a_lookup_needs_room_for_one_entry():
    with pytest.raises(ValueError):
        CountryLookup("", "", max_entries=0)


@pytest.mark.parametrize("location,expected", [
    ({"latitude": 0, "longitude": 0}, (0.0, 0.0)),
    ({"latitude": -90, "longitude": 180.0}, (-90.0, 180.0)),
    ({"latitude": 90.5, "longitude": 1}, (None, None)),
    ({"latitude": 1, "longitude": -180.01}, (None, None)),
    ({"latitude": float("nan"), "longitude": 1}, (None, None)),
    ({"latitude": "48.8", "longitude": 2}, (None, None)),
    ({"latitude": True, "longitude": 2}, (None, None)),
    ({"longitude": 2}, (None, None)),
])
def test_only_a_whole_position_within_range_is_kept(location, expected):
    place = _mmdb_place({"country": {"iso_code": "FR"}, "location": location})
    assert (place.latitude, place.longitude) == expected


def test_a_time_zone_must_be_text():
    assert _mmdb_place({"location": {"time_zone": 5}}).time_zone is None
    assert _mmdb_place({"location": "nowhere"}) == Place(None, None, None)


@pytest.mark.parametrize("code,name", [("US", "United States"), ("gb", "United Kingdom"), ("RU", "Russia"),
                                       ("KR", "South Korea"), ("XK", "Kosovo"), ("ZZ", None), ("XX", None),
                                       ("QO", None), ("AA", None), ("A1", None), ("USA", None), ("", None),
                                       (None, None), ("\u00e9\u00e9", None)])
def test_country_names_are_cldr_english_names(code, name):
    assert country_name(code) == name
