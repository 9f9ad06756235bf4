"""What a user does in the Airflow 3.3 UI, as Playwright steps (labels as the UI shows them)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import quote

from playwright.sync_api import Locator, Page, expect


@dataclass
class AirflowUi:
    """One browser page on one Airflow API server."""

    page: Page
    base_url: str

    def login(self, username: str, password: str) -> None:
        self.page.goto(f"{self.base_url}/auth/login")
        self.page.get_by_label("Username").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(lambda url: "/auth/login" not in url)

    def dialog(self) -> Locator:
        """The open modal dialog (date pickers are popovers with role dialog too, so not by role)."""
        return self.page.locator("[data-scope=dialog][data-part=content]")

    def open_backfill_dialog(self, dag_id: str) -> Locator:
        """DAG page -> Trigger -> Backfill."""
        self.page.goto(f"{self.base_url}/dags/{dag_id}")
        return self.open_backfill_dialog_here(dag_id)

    def open_backfill_dialog_here(self, dag_id: str) -> Locator:
        """Trigger -> Backfill on the DAG page the browser shows."""
        self.page.get_by_role("button", name="Trigger Dag").click()
        dialog = self.dialog()
        dialog.get_by_text("Backfill", exact=True).click()
        expect(dialog.get_by_text(f"Run Backfill - {dag_id}")).to_be_visible()
        return dialog

    def pick_date(self, trigger: Locator, day: date) -> None:
        """Type a day (midnight, in the browser's timezone) into a From/To date popover."""
        open_popovers = self.page.locator("[data-scope=popover][data-part=content][data-state=open]")
        expect(open_popovers).to_have_count(0)  # the previous picker has closed (its content may still be fading)
        trigger.click()
        expect(open_popovers).to_have_count(1)
        popover = open_popovers.first
        date_input = popover.get_by_placeholder("YYYY/MM/DD")
        expect(date_input).to_have_count(1)
        date_input.fill(day.strftime("%Y/%m/%d"))
        popover.get_by_placeholder("HH:mm").fill("00:00")
        self.page.keyboard.press("Escape")
        expect(open_popovers).to_have_count(0)
        expect(trigger).to_contain_text(day.strftime("%b %d, %Y 00:00"))

    def fill_backfill(self, dialog: Locator, first: date, last: date, max_active_runs: int) -> None:
        """From ``first`` to ``last`` (both included), missing runs only, unpause on trigger (the defaults)."""
        dates = dialog.get_by_test_id("datetime-input")
        self.pick_date(dates.nth(0), first)
        self.pick_date(dates.nth(1), last)
        dialog.locator("input[name=max_active_runs]").fill(str(max_active_runs))
        runs = (last - first).days + 1
        expect(dialog.get_by_text(f"{runs} run{'s' if runs > 1 else ''} will be triggered.")).to_be_visible()
        expect(dialog.get_by_label("Missing Runs")).to_be_checked()

    def run_backfill(self, dialog: Locator) -> None:
        """Submit; the dialog closes once the API has created the backfill (its toast is too brief to rely on)."""
        dialog.get_by_role("button", name="Run Backfill").click()
        expect(dialog).to_be_hidden()

    def open_runs(self, dag_id: str) -> None:
        """The DAG's Runs tab (grid on the left, runs list on the right)."""
        self.page.goto(f"{self.base_url}/dags/{dag_id}/runs")

    def expand_grid(self) -> None:
        """Show every task of the grid's task groups."""
        # The runs list has an "Expand all extra JSON" button of the same test id; labels may show untranslated keys
        # (taskGroups.expandAll, expandAllExtra) while the UI loads its texts.
        expand = self.page.locator(
            '[data-testid=expand-all-button]:not([aria-label*="json" i]):not([aria-label*="extra" i])'
        )
        expect(expand).to_be_visible(timeout=120_000)  # shown once the grid knows its task groups: late when busy
        if expand.is_enabled():  # disabled: every group is open already
            expand.click()
        expect(expand).to_be_disabled()

    def grid_run_bar(self, dag_id: str, run_id: str) -> Locator:
        return self.page.locator(f'a[href="/dags/{dag_id}/runs/{quote(run_id, safe=":+")}/"]')

    def open_task_log(self, dag_id: str, run_id: str, task_id: str, map_index: int) -> None:
        self.page.goto(f"{self.base_url}/dags/{dag_id}/runs/{run_id}/tasks/{task_id}/mapped/{map_index}")

    def open_run(self, dag_id: str, run_id: str) -> None:
        self.page.goto(f"{self.base_url}/dags/{dag_id}/runs/{run_id}")

    def open_run_note(self) -> Locator:
        """The run page's "Edit note" button opens the note in full."""
        self.page.get_by_role("button", name="Edit note").first.click()
        dialog = self.dialog()
        expect(dialog.get_by_text("Dag Run Note")).to_be_visible()
        return dialog

    def open_connections(self) -> None:
        """Admin -> Connections."""
        self.page.goto(self.base_url)
        self.page.get_by_role("button", name="Admin").click()
        self.page.get_by_role("menuitem", name="Connections").click()
        expect(self.page.get_by_role("button", name="Add Connection")).to_be_visible()

    def add_connection(self, conn_id: str, conn_type: str) -> Locator:
        """Add Connection: the id and the type (as the type list names it); the form's fields follow."""
        self.page.get_by_role("button", name="Add Connection").click()
        dialog = self.dialog()
        dialog.get_by_label("Connection ID").fill(conn_id)
        dialog.get_by_role("combobox").first.fill(conn_type)
        self.page.get_by_role("option", name=conn_type, exact=True).click()
        return dialog

    def open_extra_fields(self, dialog: Locator) -> None:
        dialog.get_by_role("button", name="Extra Fields", exact=True).click()

    def choose(self, select: Locator, option: str) -> None:
        """Pick an option of a select field (a combobox with a list of options)."""
        select.get_by_role("combobox").click()
        self.page.get_by_role("option", name=option, exact=True).click()
        expect(select).to_contain_text(option)

    def save_connection(self, dialog: Locator) -> None:
        dialog.get_by_role("button", name="Save").click()
        expect(dialog).to_be_hidden()

    def connection_row(self, conn_id: str) -> Locator:
        return self.page.get_by_role("row").filter(has_text=conn_id)

    def edit_connection(self, conn_id: str) -> Locator:
        self.connection_row(conn_id).get_by_role("button", name="Edit Connection").click()
        dialog = self.dialog()
        expect(dialog.get_by_text("Edit Connection")).to_be_visible()
        return dialog

    def press_test(self, conn_id: str) -> None:
        """The row's Test button (it tests the stored connection)."""
        self.connection_row(conn_id).get_by_role("button", name="Test Connection").click()
