//! Checkout and orders: regional stock at checkout, holds that never oversell, payment
//! that commits the holds and enqueues the push in one transaction, and cancellation.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use tracing::instrument;
use utoipa::ToSchema;

use crate::catalog::{SOURCE_HAIER, parse_stock_region};
use crate::config::OrdersConfig;
use crate::input::{DateTime, Text, check_day};
use crate::status::{HoldStatus, OrderStatus, SupplierStatus};
use crate::store::catalog::get_product;
use crate::store::holds::{
    Hold, LOCAL_POOL, adjust_pool, get_pool, get_pool_in, holds_of_order_in, insert_hold,
    move_hold, move_holds, refresh_pool, reserve,
};
use crate::store::jobs::enqueue;
use crate::store::orders::{
    Order, OrderLine, get_order, get_order_by_number, get_order_in, insert_line, insert_order,
    lines_of_order, lines_of_order_in, lock_order_in, transition_order, transition_supplier_status,
};
use crate::store::{Db, StoreError, new_id};
use crate::systems::live::LiveSupplier;
use crate::types::{Money, UtcTime};

pub use crate::catalog::SOURCE_LOCAL;
pub use crate::jobs::job_kind;

/// One line of a checkout.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LineInput {
    /// SKU (`productCode`): 1 to 50 characters, no whitespace, no control characters;
    /// taken as given, never trimmed.
    #[schema(value_type = String, min_length = 1, max_length = 50, pattern = r"^[^\s\u0000-\u001f\u007f-\u009f]+$")]
    pub sku: haier::ProductCode,
    /// Units, 1 to 9999.
    #[schema(minimum = 1, maximum = 9999)]
    #[serde(deserialize_with = "crate::input::integer")]
    pub quantity: i64,
    /// Retail price per unit in yuan (`retailPrice`): 0 to 100000000, at most 2 decimals.
    #[schema(value_type = String, pattern = r"^((0|[1-9][0-9]{0,7})(\.[0-9]{1,2})?|100000000(\.00?)?)$")]
    pub retail_price: Money,
    /// Discount per unit in yuan (`discountAmount`), default 0, at most the retail price;
    /// the deal price is retail − discount.
    #[serde(default)]
    #[schema(value_type = Option<String>, pattern = r"^((0|[1-9][0-9]{0,7})(\.[0-9]{1,2})?|100000000(\.00?)?)$")]
    pub discount_amount: Option<Money>,
    /// A gift (`isGift`).
    #[serde(default)]
    pub is_gift: bool,
}

/// Who receives the goods.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConsigneeInput {
    /// Name (`consigneeName`), 1 to 50 characters.
    #[schema(value_type = String, min_length = 1, max_length = 50, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$")]
    pub name: Text<1, 50>,
    /// Mainland mobile number, 11 digits (`consigneeMobile`).
    #[schema(pattern = r"^1[0-9]{10}$")]
    pub mobile: String,
}

/// Where the goods go.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AddressInput {
    /// Province, e.g. 江苏省; 1 to 50 characters.
    #[schema(value_type = String, min_length = 1, max_length = 50, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$")]
    pub province: Text<1, 50>,
    /// City, e.g. 南京市; 1 to 50 characters.
    #[schema(value_type = String, min_length = 1, max_length = 50, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$")]
    pub city: Text<1, 50>,
    /// District or county, e.g. 鼓楼区; 1 to 50 characters.
    #[schema(value_type = String, min_length = 1, max_length = 50, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$")]
    pub district: Text<1, 50>,
    /// Town or street (`town`), optional, at most 100 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 100, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub town: Option<Text<0, 100>>,
    /// The rest: road, number, building, without the region; 1 to 200 characters.
    #[schema(value_type = String, min_length = 1, max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$")]
    pub detail: Text<1, 200>,
}

/// A checkout: creates an order and holds its stock.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CreateOrderInput {
    /// The storefront's order number (sent as `onlineNo` and `soId`): 1 to 64 of
    /// `A-Z a-z 0-9 - _ .`. Creating again with the same number and the same content
    /// answers the existing order.
    #[schema(pattern = r"^[A-Za-z0-9._-]{1,64}$")]
    pub order_number: String,
    /// Lines, 1 to 200; lines of one SKU are summed.
    #[schema(min_items = 1, max_items = 200)]
    pub lines: Vec<LineInput>,
    /// The consignee.
    pub consignee: ConsigneeInput,
    /// The delivery address.
    pub address: AddressInput,
    /// Requested delivery date (RFC 3339), optional (`distributionTime`): from today
    /// (China time) to ten years ahead, no leap second.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub distribution_time: Option<DateTime>,
    /// Requested installation date (RFC 3339), optional (`installTime`): as
    /// `distribution_time`.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub install_time: Option<DateTime>,
    /// A government-subsidy order (`governmentOrder`).
    #[serde(default)]
    pub government_order: bool,
    /// A remark for the supplier (`remark`), at most 200 characters.
    #[serde(default)]
    #[schema(value_type = Option<String>, max_length = 200, pattern = r"^[^\u0000-\u001f\u007f-\u009f]*$")]
    pub remark: Option<Text<0, 200>>,
}

/// Why an order operation failed. Each variant names its HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    /// 422: the request is not a valid order; `field` names the bad input.
    #[error("{field}: {detail}")]
    Invalid {
        /// The offending field, e.g. `lines[1].quantity`.
        field: String,
        /// What is wrong.
        detail: String,
    },
    /// 422: the address resolves to no county, so regional stock cannot be checked.
    #[error("address: {0}")]
    Unresolvable(String),
    /// 409: not enough stock to hold.
    #[error("not enough stock of {sku} in {county}: {available} available, {requested} requested")]
    InsufficientStock {
        /// SKU.
        sku: String,
        /// County code (empty for local stock).
        county: String,
        /// Units that could still be held.
        available: i64,
        /// Units asked for.
        requested: i64,
    },
    /// 409: the order number exists with other content.
    #[error("order number {0} exists with other content")]
    Duplicate(String),
    /// 409: the order is not in a state that allows this.
    #[error("{0}")]
    InvalidState(String),
    /// 404: no such order.
    #[error("no order {0}")]
    NotFound(String),
    /// 503: the supplier's stock could not be read (after retries), and no recent figure
    /// is known.
    #[error("the supplier's stock could not be checked: {0}")]
    SupplierUnavailable(String),
    /// 502 `supplier_auth_failed`: the supplier refused our credentials while the stock
    /// was checked (the supplier settings need fixing; retrying will not help).
    #[error("the supplier refused our credentials: {0}")]
    SupplierAuth(String),
    /// 500: the store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(field: impl Into<String>, detail: impl Into<String>) -> OrderError {
    OrderError::Invalid {
        field: field.into(),
        detail: detail.into(),
    }
}

/// A line after summing lines of one SKU.
#[derive(Debug, Clone, PartialEq)]
struct Line {
    sku: haier::ProductCode,
    quantity: i64,
    retail_price: Money,
    discount_amount: Money,
    is_gift: bool,
}

/// The checked content of a checkout.
struct Checked {
    lines: Vec<Line>,
    county_code: String,
}

/// The result of a create: the order and whether this call created it.
#[derive(Debug)]
pub struct Created {
    /// The order.
    pub order: Order,
    /// False when the same request had already created it.
    pub created: bool,
}

/// An order with its lines and holds.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    /// The order.
    #[serde(flatten)]
    pub order: Order,
    /// Its lines.
    pub lines: Vec<OrderLine>,
    /// Its holds.
    pub holds: Vec<Hold>,
}

/// Who asks for an order operation, as far as orders care: the principal recorded as the
/// creator of the orders it makes, and whether it may only see and act on those (the
/// `storefront` role). Other roles see every order the permission table lets them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requester {
    /// The API key (`key_…`) or user (`usr_…`) id; `None` for the bootstrap admin token
    /// or a hub open to all.
    pub principal_id: Option<String>,
    /// Only its own orders exist for it.
    pub own_orders_only: bool,
}

impl Requester {
    /// The requester a caller is.
    pub fn of(principal: &crate::access::Principal) -> Requester {
        use crate::access::Principal as P;
        let principal_id = match principal {
            P::User { id, .. } | P::ApiKey { id, .. } => Some(id.clone()),
            P::AdminToken | P::Open => None,
        };
        Requester {
            principal_id,
            own_orders_only: principal.role() == crate::access::Role::Storefront,
        }
    }

    /// Whether `order` exists for this requester.
    pub fn sees(&self, order: &Order) -> bool {
        !self.own_orders_only
            || (order.created_by.is_some() && order.created_by == self.principal_id)
    }

    /// The creator a listing is narrowed to: the requester itself when it sees its own
    /// orders only (a requester with no id then matches none), else every order.
    pub fn list_filter(&self) -> Option<&str> {
        self.own_orders_only
            .then(|| self.principal_id.as_deref().unwrap_or(""))
    }
}

/// Checkout and order operations.
#[derive(Clone)]
pub struct OrderService {
    db: Db,
    resolver: Arc<region::Resolver>,
    supplier: LiveSupplier,
    config: OrdersConfig,
}

impl OrderService {
    /// A service over `db`, resolving addresses with `resolver` and reading regional stock
    /// through the Open Platform client `supplier` holds at the time of each check
    /// (checkouts of supplier products fail without one).
    pub fn new(
        db: Db,
        resolver: Arc<region::Resolver>,
        supplier: LiveSupplier,
        config: OrdersConfig,
    ) -> Self {
        OrderService {
            db,
            resolver,
            supplier,
            config,
        }
    }

    /// The orders settings (`[orders]`).
    pub fn config(&self) -> &OrdersConfig {
        &self.config
    }

    /// The store.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Creates an order and holds its stock: resolves the county, checks regional stock
    /// at the supplier (cached for `stock_ttl_secs`; `fresh` bypasses the cache), and
    /// holds each SKU with one conditional update, all or nothing.
    #[instrument(skip_all, fields(order_number = %input.order_number), err(level = "info"))]
    pub async fn create(
        &self,
        input: &CreateOrderInput,
        fresh: bool,
        requester: &Requester,
    ) -> Result<Created, OrderError> {
        let hash = request_hash(input);
        if let Some(existing) = get_order_by_number(&self.db, &input.order_number).await? {
            return self.same_request(existing, &hash, requester);
        }
        let checked = self.check(input)?;

        // Every SKU must be known; supplier SKUs must be procurable.
        let mut sources = Vec::with_capacity(checked.lines.len());
        for (i, line) in checked.lines.iter().enumerate() {
            let product = get_product(&self.db, line.sku.as_str())
                .await?
                .ok_or_else(|| {
                    invalid(
                        format!("lines[{i}].sku"),
                        format!("no product {}", line.sku),
                    )
                })?;
            if product.source == SOURCE_HAIER && !product.content.is_procurable {
                return Err(invalid(
                    format!("lines[{i}].sku"),
                    format!("{} is not procurable", line.sku),
                ));
            }
            sources.push(product.source);
        }
        // Regional stock at the supplier, outside the write transaction.
        for (line, source) in checked.lines.iter().zip(&sources) {
            if source == SOURCE_HAIER {
                self.refresh_regional_stock(&line.sku, &checked.county_code, fresh)
                    .await?;
            }
        }

        let now = UtcTime::now();
        let expires =
            UtcTime::from_micros(now.as_micros() + secs_to_micros(self.config.hold_ttl_secs))
                .unwrap_or(now);
        let order = new_order(
            input,
            &checked,
            &hash,
            now,
            expires,
            requester.principal_id.as_deref(),
        );
        let mut tx = self.db.begin().await?;
        if let Err(e) = insert_order(&mut tx, &order).await {
            drop(tx);
            return match e {
                // A concurrent create of the same number won.
                StoreError::Conflict(_) => {
                    match get_order_by_number(&self.db, &input.order_number).await? {
                        Some(existing) => self.same_request(existing, &hash, requester),
                        None => Err(OrderError::Duplicate(input.order_number.clone())),
                    }
                }
                other => Err(other.into()),
            };
        }
        for (i, (line, source)) in checked.lines.iter().zip(&sources).enumerate() {
            insert_line(&mut tx, &order.id, &order_line(i, line, source)).await?;
            let pool = if source == SOURCE_HAIER {
                checked.county_code.as_str()
            } else {
                LOCAL_POOL
            };
            if source != SOURCE_HAIER
                && get_pool_in(&mut tx, line.sku.as_str(), pool)
                    .await?
                    .is_none()
            {
                return Err(OrderError::InsufficientStock {
                    sku: line.sku.to_string(),
                    county: pool.to_owned(),
                    available: 0,
                    requested: line.quantity,
                });
            }
            if !reserve(&mut tx, line.sku.as_str(), pool, line.quantity, &order.id).await? {
                drop(tx);
                let available = get_pool(&self.db, line.sku.as_str(), pool)
                    .await?
                    .map_or(0, |p| (p.capacity - p.held).max(0));
                return Err(OrderError::InsufficientStock {
                    sku: line.sku.to_string(),
                    county: pool.to_owned(),
                    available,
                    requested: line.quantity,
                });
            }
            insert_hold(
                &mut tx,
                &Hold {
                    id: new_id("hld"),
                    order_id: order.id.clone(),
                    product_code: line.sku.to_string(),
                    county_code: pool.to_owned(),
                    quantity: line.quantity,
                    status: HoldStatus::Active,
                    expires_at: expires,
                    created_at: now,
                    updated_at: now,
                },
            )
            .await?;
        }
        tx.commit().await?;
        Ok(Created {
            order,
            created: true,
        })
    }

    /// A create of an order number that exists: the same request again answers the
    /// order, unless the requester may not see it (another storefront's number).
    fn same_request(
        &self,
        existing: Order,
        hash: &str,
        requester: &Requester,
    ) -> Result<Created, OrderError> {
        if existing.request_hash == hash && requester.sees(&existing) {
            Ok(Created {
                order: existing,
                created: false,
            })
        } else {
            Err(OrderError::Duplicate(existing.order_number))
        }
    }

    /// Reads the supplier's stock of `sku` in `county` into its pool unless a figure
    /// younger than the TTL is known (or `fresh` asks for a new one).
    async fn refresh_regional_stock(
        &self,
        code: &haier::ProductCode,
        county: &str,
        fresh: bool,
    ) -> Result<(), OrderError> {
        let sku = code.as_str();
        let now = UtcTime::now();
        let ttl = secs_to_micros(self.config.stock_ttl_secs);
        if !fresh
            && let Some(pool) = get_pool(&self.db, sku, county).await?
            && now.as_micros() - pool.refreshed_at.as_micros() < ttl
        {
            return Ok(());
        }
        let supplier = self
            .supplier
            .current()
            .await
            .open_platform
            .clone()
            .ok_or_else(|| {
                OrderError::SupplierUnavailable("no supplier is configured".to_owned())
            })?;
        let started = std::time::Instant::now();
        let result = supplier.stock(code, county).await;
        let mut call = crate::calllog::SupplierCall::ended(
            crate::calllog::OPEN_PLATFORM,
            "h3_stock",
            &result,
            started,
        )
        .request(serde_json::json!({"productCode": sku, "countyCode": county}));
        if let Ok(r) = &result {
            call = call.response(serde_json::json!({"total": r.total()}).to_string());
        }
        crate::calllog::record(&self.db, call).await?;
        let reply = result.map_err(|e| match e {
            haier::Error::Auth { .. } => OrderError::SupplierAuth(e.to_string()),
            _ => OrderError::SupplierUnavailable(e.to_string()),
        })?;
        let total = i64::try_from(reply.total()).unwrap_or(i64::MAX);
        let mut tx = self.db.begin().await?;
        refresh_pool(&mut tx, sku, county, total, UtcTime::now()).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Validates a checkout and sums its lines.
    fn check(&self, input: &CreateOrderInput) -> Result<Checked, OrderError> {
        let n = &input.order_number;
        if n.is_empty()
            || n.len() > 64
            || !n
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(invalid("order_number", "1 to 64 of A-Z a-z 0-9 - _ ."));
        }
        if input.lines.is_empty() || input.lines.len() > 200 {
            return Err(invalid("lines", "1 to 200 lines"));
        }
        let mut summed: BTreeMap<&haier::ProductCode, Line> = BTreeMap::new();
        for (i, l) in input.lines.iter().enumerate() {
            let discount = l.discount_amount.unwrap_or(Money::ZERO);
            if !(1..=9999).contains(&l.quantity) {
                return Err(invalid(
                    format!("lines[{i}].quantity"),
                    format!("1 to 9999, got {}", l.quantity),
                ));
            }
            for (name, m) in [
                ("retail_price", l.retail_price),
                ("discount_amount", discount),
            ] {
                let d = m.amount();
                if d.is_sign_negative()
                    || d.scale() > 2
                    || d > rust_decimal::Decimal::from(100_000_000)
                {
                    return Err(invalid(
                        format!("lines[{i}].{name}"),
                        format!("0 to 100000000 with at most 2 decimals, got {m}"),
                    ));
                }
            }
            if discount > l.retail_price {
                return Err(invalid(
                    format!("lines[{i}].discount_amount"),
                    "larger than the retail price",
                ));
            }
            let line = Line {
                sku: l.sku.clone(),
                quantity: l.quantity,
                retail_price: l.retail_price,
                discount_amount: discount,
                is_gift: l.is_gift,
            };
            match summed.get_mut(&l.sku) {
                Some(prev) => {
                    if (prev.retail_price, prev.discount_amount, prev.is_gift)
                        != (line.retail_price, line.discount_amount, line.is_gift)
                    {
                        return Err(invalid(
                            format!("lines[{i}]"),
                            format!("{} appears twice with different prices", line.sku),
                        ));
                    }
                    prev.quantity += line.quantity;
                    if prev.quantity > 9999 {
                        return Err(invalid(
                            format!("lines[{i}].quantity"),
                            format!("{} sums to more than 9999", line.sku),
                        ));
                    }
                }
                None => {
                    summed.insert(&l.sku, line);
                }
            }
        }
        let c = &input.consignee;
        if c.mobile.len() != 11
            || !c.mobile.starts_with('1')
            || !c.mobile.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(invalid(
                "consignee.mobile",
                "an 11-digit mainland mobile number",
            ));
        }
        let now = jiff::Timestamp::now();
        for (name, time) in [
            ("distribution_time", input.distribution_time),
            ("install_time", input.install_time),
        ] {
            if let Some(time) = time {
                check_day(time, now, false).map_err(|detail| invalid(name, detail))?;
            }
        }
        let a = &input.address;
        let r =
            self.resolver
                .resolve_parts(a.province.as_str(), a.city.as_str(), a.district.as_str());
        let county_code = match (r.level, r.code) {
            (region::Level::County, Some(code)) => code.to_string(),
            _ => {
                return Err(OrderError::Unresolvable(format!(
                    "{}/{}/{} does not resolve to a county",
                    a.province, a.city, a.district
                )));
            }
        };
        parse_stock_region(&county_code).map_err(OrderError::Unresolvable)?;
        Ok(Checked {
            lines: summed.into_values().collect(),
            county_code,
        })
    }

    /// Pays an order: commits its holds and, when it has supplier lines, enqueues the
    /// push — in one transaction. Paying a paid order again answers it unchanged.
    #[instrument(skip_all, fields(order = %id), err(level = "info"))]
    pub async fn pay(&self, id: &str) -> Result<Order, OrderError> {
        let now = UtcTime::now();
        let mut tx = self.db.begin().await?;
        // Locked: a concurrent cancel or pay waits for this one and sees its result.
        let order = lock_order_in(&mut tx, id)
            .await?
            .ok_or_else(|| OrderError::NotFound(id.to_owned()))?;
        match order.status {
            OrderStatus::Paid => {
                drop(tx);
                return Ok(order);
            }
            OrderStatus::Held if order.hold_expires_at <= now => {
                drop(tx);
                self.expire(id).await?;
                return Err(OrderError::InvalidState(
                    "the order's holds expired before payment".to_owned(),
                ));
            }
            OrderStatus::Held => {}
            other => {
                return Err(OrderError::InvalidState(format!(
                    "an order that is {other} cannot be paid"
                )));
            }
        }
        if !transition_order(&mut tx, id, &[OrderStatus::Held], OrderStatus::Paid, now).await? {
            return Err(moved_meanwhile());
        }
        let mut supplier_lines = false;
        for hold in holds_of_order_in(&mut tx, id, HoldStatus::Active).await? {
            if hold.county_code == LOCAL_POOL {
                // Local stock leaves on payment.
                move_hold(&mut tx, &hold, HoldStatus::Settled, Some("commit"), now).await?;
            } else {
                // Supplier stock stays held until the supplier takes the order.
                move_hold(&mut tx, &hold, HoldStatus::Committed, None, now).await?;
                supplier_lines = true;
            }
        }
        if supplier_lines {
            if !transition_supplier_status(
                &mut tx,
                id,
                &[SupplierStatus::None],
                SupplierStatus::PushPending,
                None,
                None,
                now,
            )
            .await?
            {
                return Err(moved_meanwhile());
            }
            enqueue(
                &mut tx,
                job_kind::PUSH,
                &serde_json::json!({"order_id": id}),
                &format!("{}:{id}", job_kind::PUSH),
                self.config.push_max_attempts,
                now,
            )
            .await?;
        }
        let order = get_order_in(&mut tx, id)
            .await?
            .ok_or_else(|| OrderError::NotFound(id.to_owned()))?;
        tx.commit().await?;
        Ok(order)
    }

    /// Cancels an order. Before payment the holds are released at once. After payment a
    /// pushed order is cancelled at the supplier through the outbox (`cancel_pending`
    /// until the supplier's callback); an order still being pushed cannot be cancelled
    /// yet (409, try again). Cancelling a cancelled order answers it unchanged.
    #[instrument(skip_all, fields(order = %id), err(level = "info"))]
    pub async fn cancel(&self, id: &str, reason: &str) -> Result<Order, OrderError> {
        use SupplierStatus as S;
        let now = UtcTime::now();
        let mut tx = self.db.begin().await?;
        // Locked: concurrent cancels run one after the other, and the later ones find
        // the order cancelled.
        let order = lock_order_in(&mut tx, id)
            .await?
            .ok_or_else(|| OrderError::NotFound(id.to_owned()))?;
        match (order.status, order.supplier_status) {
            (OrderStatus::Cancelled | OrderStatus::Expired, _)
            | (OrderStatus::Paid, S::CancelPending) => {
                drop(tx);
                return Ok(order);
            }
            (OrderStatus::Held, _) => {
                let (from, to) = (OrderStatus::Held, OrderStatus::Cancelled);
                if !transition_order(&mut tx, id, &[from], to, now).await? {
                    return Err(moved_meanwhile());
                }
                move_holds(
                    &mut tx,
                    id,
                    HoldStatus::Active,
                    HoldStatus::Released,
                    Some("release"),
                    now,
                )
                .await?;
            }
            (OrderStatus::Paid, S::None) => {
                // Local stock only: it comes back on hand, once.
                let (from, to) = (OrderStatus::Paid, OrderStatus::Cancelled);
                if !transition_order(&mut tx, id, &[from], to, now).await? {
                    return Err(moved_meanwhile());
                }
                for line in lines_of_order_in(&mut tx, id).await? {
                    adjust_pool(
                        &mut tx,
                        &line.product_code,
                        LOCAL_POOL,
                        line.quantity,
                        &format!("order {} cancelled", order.order_number),
                        now,
                    )
                    .await?;
                }
            }
            (
                OrderStatus::Paid,
                from @ (S::Pushed | S::Confirmed | S::CancelFailed | S::PartiallyCancelled),
            ) => {
                if !transition_supplier_status(
                    &mut tx,
                    id,
                    &[from],
                    S::CancelPending,
                    None,
                    None,
                    now,
                )
                .await?
                {
                    return Err(moved_meanwhile());
                }
                enqueue(
                    &mut tx,
                    job_kind::CANCEL,
                    &serde_json::json!({"order_id": id, "reason": reason}),
                    &format!("{}:{id}:{}", job_kind::CANCEL, now.as_micros()),
                    self.config.push_max_attempts,
                    now,
                )
                .await?;
            }
            (OrderStatus::Paid, S::PushPending) => {
                return Err(OrderError::InvalidState(
                    "the order is being pushed to the supplier; cancel it once pushed".to_owned(),
                ));
            }
            (_, supplier) => {
                return Err(OrderError::InvalidState(format!(
                    "an order that is {supplier} at the supplier cannot be cancelled"
                )));
            }
        }
        let order = get_order_in(&mut tx, id)
            .await?
            .ok_or_else(|| OrderError::NotFound(id.to_owned()))?;
        tx.commit().await?;
        Ok(order)
    }

    /// Expires an unpaid order whose holds ran out, releasing them. False when the order
    /// was no longer `held`.
    pub async fn expire(&self, id: &str) -> Result<bool, OrderError> {
        let now = UtcTime::now();
        let mut tx = self.db.begin().await?;
        let (from, to) = (OrderStatus::Held, OrderStatus::Expired);
        if !transition_order(&mut tx, id, &[from], to, now).await? {
            return Ok(false);
        }
        move_holds(
            &mut tx,
            id,
            HoldStatus::Active,
            HoldStatus::Expired,
            Some("expire"),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Expires every unpaid order whose holds ran out; the number expired.
    pub async fn sweep_expired(&self) -> Result<usize, OrderError> {
        let mut n = 0;
        loop {
            let ids =
                crate::store::orders::expired_held_orders(&self.db, UtcTime::now(), 200).await?;
            if ids.is_empty() {
                return Ok(n);
            }
            for id in &ids {
                if self.expire(id).await? {
                    n += 1;
                }
            }
        }
    }

    /// Asks the supplier (through the outbox) to move a pushed order's delivery and/or
    /// installation day; each time must be 23:59:59 China time.
    pub async fn reschedule(
        &self,
        id: &str,
        distribution_time: Option<DateTime>,
        install_time: Option<DateTime>,
    ) -> Result<Order, OrderError> {
        if distribution_time.is_none() && install_time.is_none() {
            return Err(invalid(
                "distribution_time",
                "give distribution_time and/or install_time",
            ));
        }
        let today = jiff::Timestamp::now();
        for (name, t) in [
            ("distribution_time", distribution_time),
            ("install_time", install_time),
        ] {
            if let Some(t) = t {
                check_day(t, today, true).map_err(|detail| invalid(name, detail))?;
            }
        }
        let distribution_time = distribution_time.map(DateTime::timestamp);
        let install_time = install_time.map(DateTime::timestamp);
        let now = UtcTime::now();
        let mut tx = self.db.begin().await?;
        let order = lock_order_in(&mut tx, id)
            .await?
            .ok_or_else(|| OrderError::NotFound(id.to_owned()))?;
        if order.status != OrderStatus::Paid {
            return Err(OrderError::InvalidState(
                "only a paid order the supplier has taken can be rescheduled".to_owned(),
            ));
        }
        if order.retail_order_no.is_none() {
            return Err(OrderError::InvalidState(format!(
                "the supplier has not confirmed the order yet (supplier status {}): \
                 rescheduling needs its order number, which arrives with the confirm callback",
                order.supplier_status
            )));
        }
        enqueue(
            &mut tx,
            job_kind::RESCHEDULE,
            &serde_json::json!({"order_id": id, "distribution_time": distribution_time, "install_time": install_time}),
            &format!("{}:{id}:{}", job_kind::RESCHEDULE, now.as_micros()),
            self.config.push_max_attempts,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(order)
    }

    /// An order with its lines and holds.
    pub async fn view(&self, id: &str) -> Result<OrderView, OrderError> {
        let order = get_order(&self.db, id)
            .await?
            .ok_or_else(|| OrderError::NotFound(id.to_owned()))?;
        let lines = lines_of_order(&self.db, id).await?;
        let holds = crate::store::holds::holds_of_order(&self.db, id).await?;
        Ok(OrderView {
            order,
            lines,
            holds,
        })
    }
}

/// The answer to a caller whose state change found the order moved by another: with the
/// order locked first this does not happen, and if it ever does the caller is refused
/// rather than told of a change that was not made.
fn moved_meanwhile() -> OrderError {
    OrderError::InvalidState("the order changed meanwhile; read it and try again".to_owned())
}

fn secs_to_micros(secs: u64) -> i64 {
    i64::try_from(Duration::from_secs(secs).as_micros()).unwrap_or(i64::MAX)
}

/// MD5 hex of the request's canonical JSON: equal requests hash equal.
fn request_hash(input: &CreateOrderInput) -> String {
    let canonical = serde_json::to_vec(input).unwrap_or_default();
    hex::encode(Md5::digest(&canonical))
}

fn new_order(
    input: &CreateOrderInput,
    checked: &Checked,
    hash: &str,
    now: UtcTime,
    expires: UtcTime,
    created_by: Option<&str>,
) -> Order {
    let total_qty = checked.lines.iter().map(|l| l.quantity).sum();
    let total_amount = checked
        .lines
        .iter()
        .map(|l| {
            (l.retail_price.amount() - l.discount_amount.amount())
                * rust_decimal::Decimal::from(l.quantity)
        })
        .sum::<rust_decimal::Decimal>();
    let a = &input.address;
    Order {
        id: new_id("ord"),
        order_number: input.order_number.clone(),
        so_id: input.order_number.clone(),
        request_hash: hash.to_owned(),
        status: OrderStatus::Held,
        // Set to push_pending when the order is paid, if it has supplier lines.
        supplier_status: SupplierStatus::None,
        retail_order_no: None,
        supplier_message: None,
        consignee_name: input.consignee.name.trimmed().to_owned(),
        consignee_mobile: input.consignee.mobile.clone(),
        province: a.province.trimmed().to_owned(),
        city: a.city.trimmed().to_owned(),
        district: a.district.trimmed().to_owned(),
        town: a
            .town
            .as_ref()
            .map(Text::trimmed)
            .filter(|t| !t.is_empty())
            .map(str::to_owned),
        detail_address: a.detail.trimmed().to_owned(),
        county_code: checked.county_code.clone(),
        distribution_time: input
            .distribution_time
            .map(|t| UtcTime::from(t.timestamp())),
        install_time: input.install_time.map(|t| UtcTime::from(t.timestamp())),
        government_order: input.government_order,
        remark: input
            .remark
            .as_ref()
            .map(Text::as_str)
            .filter(|r| !r.trim().is_empty())
            .map(str::to_owned),
        total_qty,
        total_amount: Money::new(total_amount),
        hold_expires_at: expires,
        created_at: now,
        updated_at: now,
        paid_at: None,
        cancelled_at: None,
        created_by: created_by.map(str::to_owned),
    }
}

fn order_line(i: usize, line: &Line, source: &str) -> OrderLine {
    OrderLine {
        line_no: i as i64 + 1,
        product_code: line.sku.to_string(),
        source: source.to_owned(),
        quantity: line.quantity,
        retail_price: line.retail_price,
        discount_amount: line.discount_amount,
        actual_price: Money::new(line.retail_price.amount() - line.discount_amount.amount()),
        is_gift: line.is_gift,
        receive_qty: None,
        return_qty: None,
        reject_qty: None,
    }
}
