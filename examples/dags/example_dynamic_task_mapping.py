"""Dynamic task mapping: one task instance per element of a list known only at run time.

``add_one`` is mapped over the list ``make_numbers`` returns, with ``offset`` fixed by
``partial``; the scheduler expands it into one task instance per number once ``make_numbers``
has pushed its list, and ``total`` receives the list of their results in map-index order.
``echo_each`` maps a classic BashOperator over literal commands, ``echo_with_env`` takes whole
keyword-argument sets with ``expand_kwargs``, ``multiply`` maps over the cross product of two
lists, ``describe_region`` over a dict (each element a ``(key, value)`` pair), and
``handle_nothing`` over an empty list, which leaves it skipped. ``per_city`` is a mapped task
group: both of its tasks get one task instance per city, and ``report`` [i] waits only for
``measure`` [i] and pulls that one's value.

Expected final states (the run: success):

    make_numbers     success
    add_one          success x3 (map indexes 0..2)
    total            success
    echo_each        success x2
    echo_with_env    success x2
    multiply         success x4
    regions          success
    describe_region  success x2
    make_nothing     success
    handle_nothing   skipped
    per_city.measure success x2
    per_city.report  success x2
"""

import pendulum

from tradewind import dag, task, task_group
from tradewind.sdk.operators.bash import BashOperator


@dag(
    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),
    schedule=None,
    catchup=False,
    tags=["example", "mapping"],
)
def example_dynamic_task_mapping():
    @task
    def make_numbers():
        return [1, 2, 3]

    @task
    def add_one(x, offset):
        return x + offset

    @task
    def total(values):
        values = list(values)
        if values != [2, 3, 4]:
            raise ValueError(f"expected the mapped results [2, 3, 4] in map-index order, got {values}")
        print(f"total of {len(values)} mapped results: {sum(values)}")
        return sum(values)

    total(add_one.partial(offset=1).expand(x=make_numbers()))

    BashOperator.partial(task_id="echo_each", retries=1).expand(
        bash_command=["echo 'map index {{ ti.map_index }}: one'", "echo 'map index {{ ti.map_index }}: two'"],
    )

    BashOperator.partial(task_id="echo_with_env").expand_kwargs(
        [
            {"bash_command": 'test "$WORD" = alpha && echo "$WORD"', "env": {"WORD": "alpha"}},
            {"bash_command": 'test "$WORD" = beta && echo "$WORD"', "env": {"WORD": "beta"}},
        ]
    )

    @task
    def multiply(x, y):
        return x * y

    multiply.expand(x=[1, 2], y=[10, 100])

    @task
    def regions():
        return {"eu": 3, "us": 5}

    @task
    def describe_region(region):
        name, servers = region
        return f"{name} has {servers} servers"

    describe_region.expand(region=regions())

    @task
    def make_nothing():
        return []

    @task
    def handle_nothing(item):
        raise RuntimeError(f"mapped over an empty list, so this never runs (got {item!r})")

    handle_nothing.expand(item=make_nothing())

    @task_group
    def per_city(city):
        @task
        def measure(city):
            return len(city)

        @task
        def report(length, city):
            if length != len(city):
                raise ValueError(f"{city}: got the length {length} of another map index")
            return f"{city} has {length} letters"

        report(measure(city), city)

    per_city.expand(city=["Oslo", "Lima"])


example_dynamic_task_mapping()
