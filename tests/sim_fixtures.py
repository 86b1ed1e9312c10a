"""Fixture factories the simulator's own test modules share: one simulator per module running a
given world, and a raw ESL connection to it per test (subscribed to every event)."""

import pytest
import yaml

from acd.sim.process import SimProcess
from tests.rawesl import connect


def world_fixture(world, name):
    """A module-scoped fixture: the simulator running ``world`` (a sim.yaml mapping)."""
    @pytest.fixture(scope="module")
    def fixture(tmp_path_factory):
        path = tmp_path_factory.mktemp(name) / "world.yaml"
        path.write_text(yaml.safe_dump(world))
        with SimProcess(path, password="ClueCon") as sim:
            yield sim
    return fixture


def esl_fixture(hang_up_after=True):
    """A per-test raw ESL connection to ``world`` with events ALL; every call is hung up after
    the test when ``hang_up_after``."""
    @pytest.fixture
    def fixture(world):
        client = connect(world, events="ALL")
        yield client
        if hang_up_after:
            client.api("hupall")
        client.close()
    return fixture
