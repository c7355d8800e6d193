// Expand an iCalendar file with ical.js (Thunderbird's library), independently of Python.
// Usage: node expand.mjs FROM TO < calendar.ics  (FROM and TO as YYYY-MM-DD, inclusive)
// Prints a JSON list of {uid, start, end, summary}: all-day starts and ends as YYYY-MM-DD,
// timed ones as UTC instants (YYYY-MM-DDTHH:MM:SSZ).
import { readFileSync } from "node:fs";
import ICAL from "ical.js";

const [from, to] = process.argv.slice(2);
const first = ICAL.Time.fromDateString(from);
const last = ICAL.Time.fromDateString(to);
last.adjust(1, 0, 0, 0);
const root = new ICAL.Component(ICAL.parse(readFileSync(0, "utf8")));
for (const zone of root.getAllSubcomponents("vtimezone")) {
  ICAL.TimezoneService.register(zone);
}

function written(time) {
  if (time.isDate) return time.toString();
  return time.convertToZone(ICAL.Timezone.utcTimezone).toString().slice(0, 19) + "Z";
}

const components = root.getAllSubcomponents("vevent");
const found = [];
for (const component of components.filter((item) => !item.hasProperty("recurrence-id"))) {
  const event = new ICAL.Event(component);
  for (const other of components) {
    if (other.hasProperty("recurrence-id") && other.getFirstPropertyValue("uid") === event.uid) {
      event.relateException(other);
    }
  }
  const starts = [];
  if (event.isRecurring()) {
    const iterator = event.iterator();
    for (let next = iterator.next(); next && next.compare(last) < 0; next = iterator.next()) {
      starts.push(next);
    }
  } else {
    starts.push(event.startDate);
  }
  for (const start of starts) {
    const details = event.getOccurrenceDetails(start);
    if (details.endDate.compare(first) <= 0 || details.startDate.compare(last) >= 0) continue;
    found.push({
      uid: event.uid,
      start: written(details.startDate),
      end: written(details.endDate),
      summary: details.item.summary,
    });
  }
}
process.stdout.write(JSON.stringify(found));
