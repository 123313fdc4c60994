export { attachInspector, MAX_SYSTEM_TEXT, RECENT_MESSAGES, type Inspector, type InspectorOptions, type InspectorRequest } from './inspector.js'
export { MAX_ERRORS, MAX_ROOMS, MAX_SESSIONS, MIN_RATE_WINDOW_MS, SnapshotBuilder, type InspectorSnapshot, type NodeRow, type RoomRow } from './snapshot.js'
