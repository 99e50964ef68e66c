//! The permission table: for every route of the hub, who may call it. The authorization
//! layer of the router ([`super::http::authorize`]) reads it for each request, and the
//! OpenAPI document lists each route's roles from it, so there is one source.
//!
//! A route missing from the table is refused to everyone (403), so a new route is closed
//! until it is given its line here.

use super::Role;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allow {
    /// Anyone, without credentials (health, the OpenAPI document, the docs page, login,
    /// and the supplier's callbacks and systems' webhooks, which carry their own
    /// signature).
    Public,
    /// Any authenticated caller, whatever its role.
    AnyRole,
    /// Only callers with one of these roles.
    Roles(&'static [Role]),
}

impl Allow {
    /// Whether a caller with `role` may call.
    pub fn permits(self, role: Role) -> bool {
        match self {
            Allow::Public | Allow::AnyRole => true,
            Allow::Roles(roles) => roles.contains(&role),
        }
    }

    /// The sentence the OpenAPI document gives for it.
    pub fn describe(self) -> String {
        match self {
            Allow::Public => "Roles: none needed (public).".to_owned(),
            Allow::AnyRole => "Roles: any authenticated caller.".to_owned(),
            Allow::Roles(roles) => format!(
                "Roles: {}.",
                roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

/// One line of the table: a method and a route template as the router writes it
/// (`/api/v1/orders/{id}`).
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    pub method: &'static str,
    /// The route template.
    pub path: &'static str,
    /// Who may call it.
    pub allow: Allow,
}

use Role::{Admin, CustomerManager, Staff, StoreManager, Storefront, WarehouseManager};

/// Operators who read: every role but the storefront.
const OPERATORS: &[Role] = &[
    Admin,
    StoreManager,
    WarehouseManager,
    CustomerManager,
    Staff,
];
/// Catalog and stock readers: operators and the storefront.
const CATALOG_READERS: &[Role] = &[
    Admin,
    StoreManager,
    WarehouseManager,
    CustomerManager,
    Staff,
    Storefront,
];
/// Who changes the catalog and stock.
const STOCK_WRITERS: &[Role] = &[Admin, StoreManager, WarehouseManager];
/// Who reads orders: operators, and the storefront (its own orders only).
const ORDER_READERS: &[Role] = CATALOG_READERS;
/// Who checks out and moves orders along: the storefront and the store's managers.
const ORDER_WRITERS: &[Role] = &[Admin, StoreManager, Storefront];
/// Supplier purchase orders (the outbox pushes them): admin, store and warehouse managers.
const PURCHASE_ORDERS: &[Role] = &[Admin, StoreManager, WarehouseManager];
/// Member records: admin, store and customer managers.
const MEMBERS: &[Role] = &[Admin, StoreManager, CustomerManager];
/// The registry of external systems: admin and store manager.
const SYSTEMS: &[Role] = &[Admin, StoreManager];
/// Live reads from a supplier: systems' roles and the warehouse manager (supplier
/// purchase orders); the balance stays with the systems' roles.
const SUPPLIER_TOOLS: &[Role] = &[Admin, StoreManager, WarehouseManager];
/// Who changes schedules and runs them now: admin, store and warehouse managers.
const SCHEDULERS: &[Role] = &[Admin, StoreManager, WarehouseManager];
/// Administration: users, API keys, the audit log.
const ADMINS: &[Role] = &[Admin];

const fn rule(method: &'static str, path: &'static str, allow: Allow) -> Rule {
    Rule {
        method,
        path,
        allow,
    }
}

/// Every route of the hub and who may call it.
pub const RULES: &[Rule] = &[
    rule("GET", "/healthz", Allow::Public),
    rule("GET", "/readyz", Allow::Public),
    rule("GET", "/metrics", Allow::Roles(OPERATORS)),
    rule("GET", "/openapi.json", Allow::Public),
    rule("GET", "/docs", Allow::Public),
    rule("GET", "/docs/app.js", Allow::Public),
    rule("POST", "/callbacks/haier", Allow::Public),
    // Signed deliveries of external systems: the signature is the authentication.
    rule("POST", "/webhooks/{system_id}", Allow::Public),
    // Access.
    rule("POST", "/api/v1/auth/login", Allow::Public),
    rule("POST", "/api/v1/auth/logout", Allow::AnyRole),
    rule("GET", "/api/v1/auth/me", Allow::AnyRole),
    rule("GET", "/api/v1/users", Allow::Roles(ADMINS)),
    rule("POST", "/api/v1/users", Allow::Roles(ADMINS)),
    rule("GET", "/api/v1/users/{id}", Allow::Roles(ADMINS)),
    rule("PATCH", "/api/v1/users/{id}", Allow::Roles(ADMINS)),
    rule("GET", "/api/v1/api-keys", Allow::Roles(ADMINS)),
    rule("POST", "/api/v1/api-keys", Allow::Roles(ADMINS)),
    rule("DELETE", "/api/v1/api-keys/{id}", Allow::Roles(ADMINS)),
    rule("GET", "/api/v1/audit-log", Allow::Roles(ADMINS)),
    // External systems.
    rule("GET", "/api/v1/systems", Allow::Roles(SYSTEMS)),
    rule("POST", "/api/v1/systems", Allow::Roles(SYSTEMS)),
    rule("GET", "/api/v1/systems/{id}", Allow::Roles(SYSTEMS)),
    rule("PUT", "/api/v1/systems/{id}", Allow::Roles(SYSTEMS)),
    rule("PATCH", "/api/v1/systems/{id}", Allow::Roles(SYSTEMS)),
    rule("DELETE", "/api/v1/systems/{id}", Allow::Roles(SYSTEMS)),
    rule("POST", "/api/v1/systems/{id}/test", Allow::Roles(SYSTEMS)),
    // Inbound webhooks: secrets, mapping, events and their replay, refusals.
    rule(
        "GET",
        "/api/v1/systems/{id}/webhook-secrets",
        Allow::Roles(SYSTEMS),
    ),
    rule(
        "POST",
        "/api/v1/systems/{id}/webhook-secrets",
        Allow::Roles(SYSTEMS),
    ),
    rule(
        "POST",
        "/api/v1/systems/{id}/mapping/preview",
        Allow::Roles(SYSTEMS),
    ),
    rule("GET", "/api/v1/webhook-events", Allow::Roles(OPERATORS)),
    rule(
        "GET",
        "/api/v1/webhook-events/{id}",
        Allow::Roles(OPERATORS),
    ),
    rule(
        "POST",
        "/api/v1/webhook-events/{id}/replay",
        Allow::Roles(SYSTEMS),
    ),
    rule(
        "POST",
        "/api/v1/webhook-events/replay",
        Allow::Roles(SYSTEMS),
    ),
    rule("GET", "/api/v1/webhook-refusals", Allow::Roles(OPERATORS)),
    // Outbound webhooks: the systems' endpoints and their deliveries.
    rule(
        "GET",
        "/api/v1/systems/{id}/endpoints",
        Allow::Roles(SYSTEMS),
    ),
    rule(
        "POST",
        "/api/v1/systems/{id}/endpoints",
        Allow::Roles(SYSTEMS),
    ),
    rule(
        "GET",
        "/api/v1/systems/{id}/endpoints/{endpoint_id}",
        Allow::Roles(SYSTEMS),
    ),
    rule(
        "PATCH",
        "/api/v1/systems/{id}/endpoints/{endpoint_id}",
        Allow::Roles(SYSTEMS),
    ),
    rule(
        "DELETE",
        "/api/v1/systems/{id}/endpoints/{endpoint_id}",
        Allow::Roles(SYSTEMS),
    ),
    rule(
        "POST",
        "/api/v1/systems/{id}/endpoints/{endpoint_id}/rotate-secret",
        Allow::Roles(SYSTEMS),
    ),
    rule("GET", "/api/v1/webhook-deliveries", Allow::Roles(SYSTEMS)),
    rule(
        "GET",
        "/api/v1/webhook-deliveries/{id}",
        Allow::Roles(SYSTEMS),
    ),
    rule(
        "POST",
        "/api/v1/webhook-deliveries/{id}/retry",
        Allow::Roles(SYSTEMS),
    ),
    // Operator tools over a supplier system (live reads).
    rule(
        "GET",
        "/api/v1/systems/{id}/supplier/products",
        Allow::Roles(SUPPLIER_TOOLS),
    ),
    rule(
        "GET",
        "/api/v1/systems/{id}/supplier/prices",
        Allow::Roles(SUPPLIER_TOOLS),
    ),
    rule(
        "GET",
        "/api/v1/systems/{id}/supplier/stock",
        Allow::Roles(SUPPLIER_TOOLS),
    ),
    rule(
        "GET",
        "/api/v1/systems/{id}/supplier/balance",
        Allow::Roles(SYSTEMS),
    ),
    rule(
        "GET",
        "/api/v1/systems/{id}/supplier/logistics",
        Allow::Roles(SUPPLIER_TOOLS),
    ),
    // Catalog and stock.
    rule("GET", "/api/v1/products", Allow::Roles(CATALOG_READERS)),
    rule("POST", "/api/v1/products", Allow::Roles(STOCK_WRITERS)),
    rule(
        "GET",
        "/api/v1/products/{code}",
        Allow::Roles(CATALOG_READERS),
    ),
    rule(
        "POST",
        "/api/v1/products/{code}/stock-adjustments",
        Allow::Roles(STOCK_WRITERS),
    ),
    rule(
        "GET",
        "/api/v1/products/{code}/stock-pool",
        Allow::Roles(CATALOG_READERS),
    ),
    rule(
        "GET",
        "/api/v1/regions/resolve",
        Allow::Roles(CATALOG_READERS),
    ),
    // Orders.
    rule("POST", "/api/v1/orders", Allow::Roles(ORDER_WRITERS)),
    // A storefront sees and acts on the orders it created only (the handlers answer
    // another's as not found); the other roles see every order.
    rule("GET", "/api/v1/orders", Allow::Roles(ORDER_READERS)),
    rule("GET", "/api/v1/orders/{id}", Allow::Roles(ORDER_READERS)),
    rule(
        "GET",
        "/api/v1/orders/{id}/calls",
        Allow::Roles(ORDER_READERS),
    ),
    rule(
        "POST",
        "/api/v1/orders/{id}/pay",
        Allow::Roles(ORDER_WRITERS),
    ),
    rule(
        "POST",
        "/api/v1/orders/{id}/cancel",
        Allow::Roles(ORDER_WRITERS),
    ),
    rule(
        "POST",
        "/api/v1/orders/{id}/reschedule",
        Allow::Roles(ORDER_WRITERS),
    ),
    rule(
        "GET",
        "/api/v1/orders/{id}/logistics",
        Allow::Roles(ORDER_READERS),
    ),
    rule(
        "GET",
        "/api/v1/orders/{id}/delivery-photos",
        Allow::Roles(ORDER_READERS),
    ),
    // The outbox of supplier purchase orders.
    rule("GET", "/api/v1/jobs", Allow::Roles(OPERATORS)),
    rule("GET", "/api/v1/jobs/{id}", Allow::Roles(OPERATORS)),
    rule(
        "POST",
        "/api/v1/jobs/{id}/redrive",
        Allow::Roles(PURCHASE_ORDERS),
    ),
    // Sync runs.
    rule("GET", "/api/v1/sync-runs", Allow::Roles(OPERATORS)),
    rule("POST", "/api/v1/sync-runs", Allow::Roles(SUPPLIER_TOOLS)),
    rule("GET", "/api/v1/sync-runs/{id}", Allow::Roles(OPERATORS)),
    rule(
        "GET",
        "/api/v1/sync-runs/{id}/calls",
        Allow::Roles(OPERATORS),
    ),
    // Schedules.
    rule("GET", "/api/v1/schedules", Allow::Roles(OPERATORS)),
    rule("GET", "/api/v1/schedules/{id}", Allow::Roles(OPERATORS)),
    rule("PUT", "/api/v1/schedules/{id}", Allow::Roles(SCHEDULERS)),
    rule(
        "POST",
        "/api/v1/schedules/{id}/run",
        Allow::Roles(SCHEDULERS),
    ),
    // Records from the retailer's systems.
    rule(
        "POST",
        "/api/v1/pos/{system_id}/transactions",
        Allow::AnyRole,
    ),
    rule("GET", "/api/v1/pos/transactions", Allow::AnyRole),
    rule("GET", "/api/v1/pos/transactions/{id}", Allow::AnyRole),
    rule(
        "GET",
        "/api/v1/supplier-orders",
        Allow::Roles(PURCHASE_ORDERS),
    ),
    rule(
        "POST",
        "/api/v1/supplier-orders/{id}",
        Allow::Roles(PURCHASE_ORDERS),
    ),
    rule(
        "GET",
        "/api/v1/supplier-orders/{id}",
        Allow::Roles(PURCHASE_ORDERS),
    ),
    rule(
        "POST",
        "/api/v1/supplier-orders/{id}/transitions",
        Allow::Roles(PURCHASE_ORDERS),
    ),
    rule(
        "POST",
        "/api/v1/members/{system_id}/sync",
        Allow::Roles(MEMBERS),
    ),
    rule("GET", "/api/v1/members", Allow::Roles(MEMBERS)),
    rule("GET", "/api/v1/members/{id}", Allow::Roles(MEMBERS)),
    // The admin page (HTML): its pages are for operators, or for the roles of the API
    // routes that read what they show (deliveries, users, keys, the audit log); each
    // action has the roles of the API route it mirrors. Without a session a browser is
    // sent to sign in.
    rule("GET", "/admin/login", Allow::Public),
    rule("POST", "/admin/login", Allow::Public),
    rule("GET", "/admin/assets/htmx.min.js", Allow::Public),
    rule("GET", "/admin/assets/admin.css", Allow::Public),
    rule("GET", "/admin/assets/favicon.svg", Allow::Public),
    rule("POST", "/admin/logout", Allow::AnyRole),
    rule("GET", "/admin", Allow::Roles(OPERATORS)),
    rule("GET", "/admin/sync-runs", Allow::Roles(OPERATORS)),
    rule("POST", "/admin/sync-runs", Allow::Roles(SUPPLIER_TOOLS)),
    rule("GET", "/admin/sync-runs/{id}", Allow::Roles(OPERATORS)),
    rule(
        "GET",
        "/admin/sync-runs/{id}/progress",
        Allow::Roles(OPERATORS),
    ),
    rule("GET", "/admin/jobs", Allow::Roles(OPERATORS)),
    rule(
        "POST",
        "/admin/jobs/{id}/redrive",
        Allow::Roles(PURCHASE_ORDERS),
    ),
    rule("GET", "/admin/orders", Allow::Roles(OPERATORS)),
    rule("GET", "/admin/orders/{id}", Allow::Roles(OPERATORS)),
    rule("GET", "/admin/stock", Allow::Roles(OPERATORS)),
    rule("GET", "/admin/schedules", Allow::Roles(OPERATORS)),
    rule("POST", "/admin/schedules/{id}", Allow::Roles(SCHEDULERS)),
    rule(
        "POST",
        "/admin/schedules/{id}/run",
        Allow::Roles(SCHEDULERS),
    ),
    rule("GET", "/admin/webhook-events", Allow::Roles(OPERATORS)),
    rule(
        "POST",
        "/admin/webhook-events/{id}/replay",
        Allow::Roles(SYSTEMS),
    ),
    rule("GET", "/admin/webhook-deliveries", Allow::Roles(SYSTEMS)),
    rule(
        "GET",
        "/admin/webhook-deliveries/{id}",
        Allow::Roles(SYSTEMS),
    ),
    rule(
        "POST",
        "/admin/webhook-deliveries/{id}/retry",
        Allow::Roles(SYSTEMS),
    ),
    rule("GET", "/admin/users", Allow::Roles(ADMINS)),
    rule("POST", "/admin/users", Allow::Roles(ADMINS)),
    rule("POST", "/admin/users/{id}", Allow::Roles(ADMINS)),
    rule("GET", "/admin/api-keys", Allow::Roles(ADMINS)),
    rule("POST", "/admin/api-keys", Allow::Roles(ADMINS)),
    rule("POST", "/admin/api-keys/{id}/revoke", Allow::Roles(ADMINS)),
    rule("GET", "/admin/audit-log", Allow::Roles(ADMINS)),
];

/// The rule of `method` on the route template `path`, if the table has one.
pub fn rule_for(method: &str, path: &str) -> Option<&'static Rule> {
    RULES
        .iter()
        .find(|r| r.method.eq_ignore_ascii_case(method) && r.path == path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_one_line_per_route() {
        let mut seen = std::collections::HashSet::new();
        for r in RULES {
            assert!(
                seen.insert((r.method, r.path)),
                "{} {} twice",
                r.method,
                r.path
            );
        }
    }

    #[test]
    fn staff_changes_nothing() {
        for r in RULES.iter().filter(|r| r.method != "GET") {
            if let Allow::Roles(roles) = r.allow {
                assert!(!roles.contains(&Role::Staff), "{} {}", r.method, r.path);
            }
        }
    }
}
