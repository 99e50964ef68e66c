//! Wire types of the YLH order centre (易理货, protocol §2), with the
//! vendor's exact field names.
//!
//! Requests serialize to the body the vendor expects: amounts as JSON
//! numbers with their exact digits, times as epoch **milliseconds**, and
//! optional fields left out (never `null`, never `0`). Every type also
//! deserializes, so a simulator can read what a client sent.
//!
//! Replies are undocumented by the vendor and read leniently: unknown fields
//! are ignored and missing ones are `None`.

use jiff::Timestamp;
use jiff::tz::{Offset, TimeZone};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;
use crate::product_code::ProductCode;
use crate::wire;

/// China Standard Time (UTC+8, no daylight saving), in which the vendor's
/// calendar times are meant.
pub const CHINA_OFFSET: Offset = jiff::tz::offset(8);

/// [`CHINA_OFFSET`] as a time zone.
pub fn china_time_zone() -> TimeZone {
    TimeZone::fixed(CHINA_OFFSET)
}

// ---------------------------------------------------------------------------
// Y1 create (接收水联网订单)

/// The Y1 request body: one order pushed to YLH
/// (`POST {order_base_url}/api/page/hmm/retailorder/receive-hmm-retail-order`).
///
/// Serialized with the vendor's names:
///
/// ```json
/// {"sourceSystem":"skwl","shopName":"…","sellerCode":"8800539012",
///  "consigneeName":"…","consigneeMobile":"…","onlineNo":"PO1","soId":"PO1",
///  "province":"江苏省","city":"南京市","area":"鼓楼区","town":"宁海路街道",
///  "detailAddress":"…","totalQty":3,"totalAmt":3998.00,
///  "createTime":1763683200000,"distributionTime":1764086399000,
///  "installTime":1764086399000,"governmentOrder":false,
///  "deliveryInstall":"true","itemList":[…]}
/// ```
///
/// `deliveryInstall` is not a field: it is derived when serializing (see
/// [`delivery_install`](Self::delivery_install)) so it can never contradict
/// the times. When deserializing it is ignored.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateOrderRequest {
    /// `sourceSystem`: our order source (e.g. "skwl"). The client replaces
    /// it with [`YlhConfig::source_system`](crate::ylh::YlhConfig).
    #[serde(default, with = "wire_string")]
    pub source_system: String,
    /// `shopName`: our shop. The client replaces it with
    /// [`YlhConfig::shop_name`](crate::ylh::YlhConfig).
    #[serde(default, with = "wire_string")]
    pub shop_name: String,
    /// `sellerCode`: our 8-digit customer code (客户八码). The client replaces
    /// it with [`YlhConfig::seller_code`](crate::ylh::YlhConfig).
    #[serde(default, with = "wire_string")]
    pub seller_code: String,
    /// `consigneeName`: the receiver's name (personal data).
    pub consignee_name: String,
    /// `consigneeMobile`: the receiver's phone (personal data).
    #[serde(with = "wire_string")]
    pub consignee_mobile: String,
    /// `onlineNo`: our platform order number.
    #[serde(with = "wire_string")]
    pub online_no: String,
    /// `soId`: our sub-order number. **Unique**: the vendor rejects a second
    /// push of the same `soId` and reports the existing order, which is
    /// what makes re-sending safe (see
    /// [`CreateOutcome::AlreadyExists`]).
    #[serde(with = "wire_string")]
    pub so_id: String,
    /// `remark`: a note; left out when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remark: Option<String>,
    /// `province`, e.g. "江苏省".
    pub province: String,
    /// `city`, e.g. "南京市".
    pub city: String,
    /// `area`: the district/county, e.g. "鼓楼区".
    pub area: String,
    /// `town`: the street or township (街道/乡镇); left out when `None`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub town: Option<String>,
    /// `detailAddress`: the street address below `town` (without repeating
    /// province, city and area).
    pub detail_address: String,
    /// `totalQty`: units over all lines (JSON integer); must equal the sum
    /// of `itemQty`.
    pub total_qty: u32,
    /// `totalAmt`: the order total in yuan, a JSON number with exact digits
    /// (e.g. `1999.98`).
    #[serde(with = "wire::amount")]
    pub total_amt: Decimal,
    /// `createTime`: when the order was placed, epoch milliseconds.
    #[serde(with = "wire::millis")]
    pub create_time: Timestamp,
    /// `distributionTime`: the promised delivery day, epoch milliseconds;
    /// the key is left out when `None`.
    #[serde(
        default,
        with = "wire::opt_millis",
        skip_serializing_if = "Option::is_none"
    )]
    pub distribution_time: Option<Timestamp>,
    /// `installTime`: the promised installation day, epoch milliseconds;
    /// the key is left out when `None`.
    #[serde(
        default,
        with = "wire::opt_millis",
        skip_serializing_if = "Option::is_none"
    )]
    pub install_time: Option<Timestamp>,
    /// `governmentOrder`: whether the order takes the state subsidy (国补).
    #[serde(default)]
    pub government_order: bool,
    /// `itemList`: the order lines.
    pub item_list: Vec<OrderItem>,
}

/// One line of a Y1 order (`itemList[]`). Money is in yuan and **per unit**.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderItem {
    /// `productCode`: the SKU, e.g. "BS01U000N".
    pub product_code: ProductCode,
    /// `itemQty`: units (JSON integer, at least 1).
    pub item_qty: u32,
    /// `retailPrice`: the list price of one unit.
    #[serde(with = "wire::amount")]
    pub retail_price: Decimal,
    /// `discountAmount`: the discount on **one unit** (0 if none), not on
    /// the line or the order.
    #[serde(with = "wire::amount")]
    pub discount_amount: Decimal,
    /// `actualPrice`: the deal price of **one unit**.
    #[serde(with = "wire::amount")]
    pub actual_price: Decimal,
    /// `isGift`: whether the line is a free gift.
    #[serde(default)]
    pub is_gift: bool,
}

impl OrderItem {
    /// A line that is not a gift: `item_qty` units at `retail_price` less
    /// `discount_amount` **per unit**, so `actualPrice = retailPrice −
    /// discountAmount` (saturating at the decimal range).
    pub fn new(
        product_code: ProductCode,
        item_qty: u32,
        retail_price: Decimal,
        discount_amount: Decimal,
    ) -> Self {
        Self {
            product_code,
            item_qty,
            retail_price,
            discount_amount,
            actual_price: retail_price.saturating_sub(discount_amount),
            is_gift: false,
        }
    }

    /// What the line costs: `actualPrice × itemQty` (saturating).
    pub fn line_amount(&self) -> Decimal {
        self.actual_price
            .saturating_mul(Decimal::from(self.item_qty))
    }
}

/// The text fields a source may send as numbers (phone, order numbers).
mod wire_string {
    use serde::{Deserializer, Serializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(crate::wire::text::deserialize(d)?.unwrap_or_default())
    }

    pub(super) fn serialize<S: Serializer>(v: &str, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(v)
    }
}

/// The body as sent: the request plus the derived `deliveryInstall`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CreateOrderWire<'a> {
    source_system: &'a str,
    shop_name: &'a str,
    seller_code: &'a str,
    consignee_name: &'a str,
    consignee_mobile: &'a str,
    online_no: &'a str,
    so_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    remark: Option<&'a str>,
    province: &'a str,
    city: &'a str,
    area: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    town: Option<&'a str>,
    detail_address: &'a str,
    total_qty: u32,
    #[serde(with = "wire::amount")]
    total_amt: Decimal,
    #[serde(with = "wire::millis")]
    create_time: Timestamp,
    #[serde(with = "wire::opt_millis", skip_serializing_if = "Option::is_none")]
    distribution_time: Option<Timestamp>,
    #[serde(with = "wire::opt_millis", skip_serializing_if = "Option::is_none")]
    install_time: Option<Timestamp>,
    government_order: bool,
    delivery_install: &'static str,
    item_list: &'a [OrderItem],
}

impl Serialize for CreateOrderRequest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        CreateOrderWire {
            source_system: &self.source_system,
            shop_name: &self.shop_name,
            seller_code: &self.seller_code,
            consignee_name: &self.consignee_name,
            consignee_mobile: &self.consignee_mobile,
            online_no: &self.online_no,
            so_id: &self.so_id,
            remark: self.remark.as_deref(),
            province: &self.province,
            city: &self.city,
            area: &self.area,
            town: self.town.as_deref(),
            detail_address: &self.detail_address,
            total_qty: self.total_qty,
            total_amt: self.total_amt,
            create_time: self.create_time,
            distribution_time: self.distribution_time,
            install_time: self.install_time,
            government_order: self.government_order,
            delivery_install: if self.delivery_install() {
                "true"
            } else {
                "false"
            },
            item_list: &self.item_list,
        }
        .serialize(s)
    }
}

impl CreateOrderRequest {
    /// `deliveryInstall` as the vendor defines it: delivery and installation
    /// in one visit, true iff both `distributionTime` and `installTime` are
    /// given and equal. Sent as the **string** `"true"`/`"false"`.
    pub fn delivery_install(&self) -> bool {
        matches!((self.distribution_time, self.install_time), (Some(d), Some(i)) if d == i)
    }

    /// The sum of [`OrderItem::line_amount`] over the lines (saturating):
    /// what `totalAmt` is expected to be when the order has no charges or
    /// discounts outside its lines.
    pub fn items_amount(&self) -> Decimal {
        self.item_list.iter().fold(Decimal::ZERO, |sum, item| {
            sum.saturating_add(item.line_amount())
        })
    }

    /// The sum of `itemQty` over the lines (saturating).
    pub fn items_qty(&self) -> u32 {
        self.item_list
            .iter()
            .fold(0u32, |sum, item| sum.saturating_add(item.item_qty))
    }

    /// Checks what the vendor cannot be trusted to check, before anything is
    /// sent: the identifying and address fields are not blank, there is at
    /// least one line, every line has at least one unit and no negative
    /// money, `totalQty` is the sum of `itemQty`, `totalAmt` is not
    /// negative, and no time is before 1970.
    ///
    /// The error names the field, never its value (the order holds personal
    /// data).
    pub fn validate(&self) -> Result<(), Error> {
        let invalid = |what: &str| {
            Err(Error::InvalidRequest(format!(
                "y1_create: order {:?}: {what}",
                self.so_id
            )))
        };
        for (name, value) in [
            ("soId", &self.so_id),
            ("onlineNo", &self.online_no),
            ("consigneeName", &self.consignee_name),
            ("consigneeMobile", &self.consignee_mobile),
            ("province", &self.province),
            ("city", &self.city),
            ("area", &self.area),
            ("detailAddress", &self.detail_address),
        ] {
            if value.trim().is_empty() {
                return invalid(&format!("{name} is empty"));
            }
        }
        if self.item_list.is_empty() {
            return invalid("itemList is empty");
        }
        for (i, item) in self.item_list.iter().enumerate() {
            if item.item_qty == 0 {
                return invalid(&format!("itemList[{i}].itemQty is 0"));
            }
            for (name, value) in [
                ("retailPrice", item.retail_price),
                ("discountAmount", item.discount_amount),
                ("actualPrice", item.actual_price),
            ] {
                if value.is_sign_negative() && !value.is_zero() {
                    return invalid(&format!("itemList[{i}].{name} is negative"));
                }
            }
        }
        if self.total_qty != self.items_qty() {
            return invalid(&format!(
                "totalQty {} is not the sum of itemQty {}",
                self.total_qty,
                self.items_qty()
            ));
        }
        if self.total_amt.is_sign_negative() && !self.total_amt.is_zero() {
            return invalid("totalAmt is negative");
        }
        for (name, time) in [
            ("createTime", Some(self.create_time)),
            ("distributionTime", self.distribution_time),
            ("installTime", self.install_time),
        ] {
            if time.is_some_and(|t| t.as_millisecond() <= 0) {
                return invalid(&format!("{name} is not after 1970"));
            }
        }
        Ok(())
    }
}

/// What a Y1 push achieved. Both variants mean: the order exists at YLH
/// under our `soId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    /// The vendor accepted the order now (`data: true`). Acceptance is not
    /// confirmation: the product, price and customer are checked afterwards
    /// and reported by the confirm callback.
    Created {
        /// The vendor's order number (巨商汇单号, e.g. "SO.20250430.000001")
        /// if the reply happened to hold one (`data.retailOrderNo`,
        /// `data.retail_order_no`, or the same keys at the top level). The
        /// vendor's document (v1.0.10) answers `data: true` only: the number
        /// arrives as `ExtOrderNo` in the confirm callback.
        retail_order_no: Option<String>,
    },
    /// The vendor already had an order with this `soId` (an earlier push
    /// arrived, possibly one whose answer was lost) and refused the repeat:
    /// `success:false` whose text matched one of
    /// [`YlhConfig::duplicate_patterns`](crate::ylh::YlhConfig::duplicate_patterns).
    AlreadyExists {
        /// The existing order's number, read like
        /// [`Created::retail_order_no`](CreateOutcome::Created).
        retail_order_no: Option<String>,
        /// The envelope's `code`, as text.
        code: Option<String>,
        /// The envelope's `errCode`.
        err_code: Option<String>,
        /// The vendor's text (`errorMsg`, else `message`/`msg`).
        message: String,
    },
}

impl CreateOutcome {
    /// The vendor's order number, if the reply held one.
    pub fn retail_order_no(&self) -> Option<&str> {
        match self {
            CreateOutcome::Created { retail_order_no }
            | CreateOutcome::AlreadyExists {
                retail_order_no, ..
            } => retail_order_no.as_deref(),
        }
    }
}

// ---------------------------------------------------------------------------
// Y2 cancel

/// The Y2 request body: cancel a pushed order
/// (`POST {order_base_url}/api/page/hmm/retailorder/cancel-hmm-retail-order`).
/// The result arrives later by callback (`hmm.scm_heorder.cancel`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelOrderRequest {
    /// `soId`: the sub-order number of the push.
    #[serde(with = "wire_string")]
    pub so_id: String,
    /// `cancelTime`: when we cancel, epoch milliseconds as a **string**
    /// (e.g. `"1763683200000"`).
    #[serde(with = "wire_string")]
    pub cancel_time: String,
    /// `cancelReason`: why (free text).
    #[serde(default)]
    pub cancel_reason: String,
    /// `sourceSystem`: our order source, as in Y1.
    #[serde(default, with = "wire_string")]
    pub source_system: String,
}

impl CancelOrderRequest {
    /// A request cancelling `so_id` at `at` for `reason`.
    pub fn new(
        so_id: impl Into<String>,
        reason: impl Into<String>,
        source_system: impl Into<String>,
        at: Timestamp,
    ) -> Self {
        Self {
            so_id: so_id.into(),
            cancel_time: at.as_millisecond().to_string(),
            cancel_reason: reason.into(),
            source_system: source_system.into(),
        }
    }
}

// ---------------------------------------------------------------------------
// Y3 reschedule (改约)

/// The Y3 request body: the delivery and installation days
/// (`POST {retail_order_base_url}/api/page/retailorder/hmm/update-distribution-time`).
///
/// Both times are always sent (protocol §0.3): the one that does not change
/// carries its original value. Times are epoch milliseconds whose time of
/// day must be **23:59:59** China time (see [`end_of_day`] and
/// [`validate`](Self::validate)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RescheduleRequest {
    /// `retailOrderNo`: the vendor's order number (e.g. "SO.20250430.000001"),
    /// as the confirm callback gave it in `ExtOrderNo`.
    #[serde(with = "wire_string")]
    pub retail_order_no: String,
    /// `distributionTime`: the delivery day, epoch milliseconds.
    #[serde(with = "wire::millis")]
    pub distribution_time: Timestamp,
    /// `installTime`: the installation day, epoch milliseconds.
    #[serde(with = "wire::millis")]
    pub install_time: Timestamp,
}

impl RescheduleRequest {
    /// Checks the request before sending: a non-blank `retailOrderNo`, and
    /// each time after 1970 and at 23:59:59 China time (UTC+8; any
    /// millisecond of that second). The error names the bad value.
    pub fn validate(&self) -> Result<(), Error> {
        if self.retail_order_no.trim().is_empty() {
            return Err(Error::InvalidRequest(
                "y3_reschedule: retailOrderNo is empty".into(),
            ));
        }
        for (name, time) in [
            ("distributionTime", self.distribution_time),
            ("installTime", self.install_time),
        ] {
            let local = time.to_zoned(china_time_zone());
            if time.as_millisecond() <= 0
                || (local.hour(), local.minute(), local.second()) != (23, 59, 59)
            {
                return Err(Error::InvalidRequest(format!(
                    "y3_reschedule: {name} {} ({}) is not at 23:59:59 China time",
                    time.as_millisecond(),
                    local.strftime("%Y-%m-%dT%H:%M:%S%:z"),
                )));
            }
        }
        Ok(())
    }
}

/// 23:59:59.000 China time (UTC+8) of `date`: the instant the vendor wants
/// for a delivery or installation day. `None` only for dates at the end of
/// the supported range.
pub fn end_of_day(date: jiff::civil::Date) -> Option<Timestamp> {
    CHINA_OFFSET.to_timestamp(date.at(23, 59, 59, 0)).ok()
}

// ---------------------------------------------------------------------------
// Y4 delivery photos (配送安装照片)

/// The Y4 request body: `{"orderNo":"SO.20250430.000001"}`
/// (`POST {retail_order_base_url}/api/page/retailorder/search/get-retail-order-delivery-img`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryPhotosRequest {
    /// `orderNo`: the vendor's order number.
    #[serde(with = "wire_string")]
    pub order_no: String,
}

/// One delivery record's photos in the Y4 reply (vendor's document v1.0.10, protocol
/// §0.3): `{orderNo, orderCode, ylhOrderCode, snNo, photosDeliveryList[]}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryPhotoRecord {
    /// `orderNo`: the vendor's order number asked for, e.g. "SO.20250430.000001".
    #[serde(default, with = "wire::text")]
    pub order_no: Option<String>,
    /// `orderCode`: the delivery record (发货单).
    #[serde(default, with = "wire::text")]
    pub order_code: Option<String>,
    /// `ylhOrderCode`: the YLH delivery order, e.g. "SO.20250430.000001.F1".
    #[serde(default, with = "wire::text")]
    pub ylh_order_code: Option<String>,
    /// `snNo`: the serial number of the unit delivered.
    #[serde(default, with = "wire::text")]
    pub sn_no: Option<String>,
    /// `photosDeliveryList`: the photos; empty if absent or `null`.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub photos_delivery_list: Vec<DeliveryPhoto>,
}

/// One photo of a [`DeliveryPhotoRecord`] (`photosDeliveryList[]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryPhoto {
    /// `imgDesc`: what the photo shows (text).
    #[serde(default, with = "wire::text")]
    pub img_desc: Option<String>,
    /// `imgUrl`: the photo's URL.
    #[serde(default, with = "wire::text")]
    pub img_url: Option<String>,
    /// `rowId`: the photo's id at the vendor (a number or a text, kept as text).
    #[serde(default, with = "wire::text")]
    pub row_id: Option<String>,
    /// `scene`: 1 delivery, 2 installation (see [`PhotoScene`]).
    #[serde(default, with = "wire::opt_count")]
    pub scene: Option<u32>,
}

/// The `scene` of a [`DeliveryPhoto`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoScene {
    /// 1: delivery (配送).
    Delivery,
    /// 2: installation (安装).
    Installation,
}

impl DeliveryPhoto {
    /// `scene` as a [`PhotoScene`]; `None` when absent or not 1 or 2.
    pub fn scene(&self) -> Option<PhotoScene> {
        match self.scene {
            Some(1) => Some(PhotoScene::Delivery),
            Some(2) => Some(PhotoScene::Installation),
            _ => None,
        }
    }
}

// ---------------------------------------------------------------------------
// Y5 logistics by SO codes

/// The most SO codes one Y5 request carries.
pub const MAX_ORDER_CODES_PER_CALL: usize = 100;

/// One entry of the Y5 reply (vendor's document v1.0.10, protocol §0.3)
/// (`POST {stock_base_url}/api/composite/stock/logistics/get-store-logistics-by-order-code`,
/// body: a bare JSON array of SO codes): `{orderCode, deliveryRecordCode,
/// logisticsList[]}`. One SO code can have several entries (one per delivery record).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreLogistics {
    /// `orderCode`: the SO code asked for.
    #[serde(default, with = "wire::text")]
    pub order_code: Option<String>,
    /// `deliveryRecordCode`: the delivery record (发货单号), e.g.
    /// "SO.20190106.000003.F1".
    #[serde(default, with = "wire::text")]
    pub delivery_record_code: Option<String>,
    /// `logisticsList`: the shipments; empty if absent or `null`.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub logistics_list: Vec<LogisticsEntry>,
}

/// One shipment of a [`StoreLogistics`] (`logisticsList[]`). The names
/// `logisticsCompany`, `logisticsNo` and `snCode` of older project notes are not
/// the vendor's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogisticsEntry {
    /// `logisticsCode`: the carrier's code.
    #[serde(default, with = "wire::text")]
    pub logistics_code: Option<String>,
    /// `logisticsName`: the carrier's name.
    #[serde(default, with = "wire::text")]
    pub logistics_name: Option<String>,
    /// `expNo`: the tracking number.
    #[serde(default, with = "wire::text")]
    pub exp_no: Option<String>,
    /// `barCodes`: the serial-number barcodes of the units shipped; empty if absent.
    #[serde(default, deserialize_with = "wire::text_list::deserialize")]
    pub bar_codes: Vec<String>,
}

fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::decode_items;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    pub(crate) fn order() -> CreateOrderRequest {
        CreateOrderRequest {
            source_system: "skwl".into(),
            shop_name: "店".into(),
            seller_code: "8800539012".into(),
            consignee_name: "张三".into(),
            consignee_mobile: "13800000000".into(),
            online_no: "PO1".into(),
            so_id: "PO1".into(),
            remark: None,
            province: "江苏省".into(),
            city: "南京市".into(),
            area: "鼓楼区".into(),
            town: None,
            detail_address: "1号".into(),
            total_qty: 1,
            total_amt: dec("1999.98"),
            create_time: ts("2025-11-21T00:00:00Z"),
            distribution_time: None,
            install_time: None,
            government_order: false,
            item_list: vec![OrderItem {
                product_code: ProductCode::parse("BS01U000N").unwrap(),
                item_qty: 1,
                retail_price: dec("1999.98"),
                discount_amount: dec("0"),
                actual_price: dec("1999.98"),
                is_gift: false,
            }],
        }
    }

    #[test]
    fn per_unit_prices() {
        let item = OrderItem::new(
            ProductCode::parse("BS01U000N").unwrap(),
            2,
            dec("1999.00"),
            dec("100.50"),
        );
        assert_eq!(item.actual_price.to_string(), "1898.50");
        assert_eq!(item.line_amount().to_string(), "3797.00");
        let mut o = order();
        o.item_list = vec![item.clone(), item];
        assert_eq!(o.items_amount().to_string(), "7594.00");
    }

    #[test]
    fn delivery_install_only_when_both_times_are_equal() {
        let day = ts("2025-11-25T15:59:59Z");
        let other = ts("2025-11-26T15:59:59Z");
        let mut o = order();
        assert!(!o.delivery_install());
        o.distribution_time = Some(day);
        assert!(!o.delivery_install());
        o.install_time = Some(other);
        assert!(!o.delivery_install());
        o.install_time = Some(day);
        assert!(o.delivery_install());
        let json = serde_json::to_value(&o).unwrap();
        assert_eq!(json["deliveryInstall"], "true");
        o.distribution_time = None;
        let json = serde_json::to_value(&o).unwrap();
        assert_eq!(json["deliveryInstall"], "false");
        assert!(json.get("distributionTime").is_none());
    }

    #[test]
    fn create_round_trip_ignores_a_sent_delivery_install() {
        let o = order();
        let mut json = serde_json::to_value(&o).unwrap();
        json["deliveryInstall"] = "true".into();
        let back: CreateOrderRequest = serde_json::from_value(json).unwrap();
        assert_eq!(back, o);
        // Times may come as strings of digits and the phone as a number.
        let mut json = serde_json::to_value(&o).unwrap();
        json["createTime"] = "1763683200000".into();
        json["consigneeMobile"] = 13800000000u64.into();
        let back: CreateOrderRequest = serde_json::from_value(json).unwrap();
        assert_eq!(back.create_time.as_millisecond(), 1_763_683_200_000);
        assert_eq!(back.consignee_mobile, "13800000000");
    }

    #[test]
    fn validation_names_the_field_not_the_value() {
        order().validate().unwrap();
        let mut o = order();
        o.consignee_mobile = " ".into();
        let err = o.validate().unwrap_err().to_string();
        assert!(err.contains("consigneeMobile is empty"), "{err}");
        let mut o = order();
        o.total_qty = 2;
        assert!(o.validate().unwrap_err().to_string().contains("totalQty"));
        let mut o = order();
        o.item_list[0].discount_amount = dec("-1");
        let err = o.validate().unwrap_err().to_string();
        assert!(err.contains("itemList[0].discountAmount"), "{err}");
        assert!(!err.contains("张三"));
        let mut o = order();
        o.item_list.clear();
        o.total_qty = 0;
        assert!(o.validate().is_err());
        let mut o = order();
        o.distribution_time = Some(Timestamp::UNIX_EPOCH);
        assert!(o.validate().is_err(), "0 ms is never sent");
    }

    #[test]
    fn cancel_time_is_a_string_of_ms() {
        let req = CancelOrderRequest::new("PO1", "客户取消", "skwl", ts("2025-11-21T00:00:00Z"));
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            serde_json::json!({"soId":"PO1","cancelTime":"1763683200000","cancelReason":"客户取消","sourceSystem":"skwl"})
        );
    }

    #[test]
    fn reschedule_times_must_end_the_day_in_china() {
        let good = ts("2025-11-25T23:59:59+08:00");
        let mut req = RescheduleRequest {
            retail_order_no: "SO.1".into(),
            distribution_time: good,
            install_time: good,
        };
        req.validate().unwrap();
        assert_eq!(
            serde_json::to_value(&req).unwrap(),
            serde_json::json!({"retailOrderNo":"SO.1","distributionTime":good.as_millisecond(),
                "installTime":good.as_millisecond()})
        );
        req.install_time = ts("2025-11-25T23:59:59.999+08:00");
        req.validate().unwrap();
        // 23:59:59 UTC is 07:59:59 the next day in China.
        req.install_time = ts("2025-11-25T23:59:59Z");
        let err = req.validate().unwrap_err().to_string();
        assert!(err.contains("installTime"), "{err}");
        assert!(err.contains("2025-11-26T07:59:59+08:00"), "{err}");
        assert_eq!(
            end_of_day(jiff::civil::date(2025, 11, 25)),
            Some(good),
            "end_of_day gives what validate accepts"
        );
    }

    #[test]
    fn photos_as_the_vendor_documents_them() {
        let body = r#"{"success":true,"code":0,"data":[{"orderNo":"SO.20250430.000001",
            "orderCode":"F0001","ylhOrderCode":"SO.20250430.000001.F1","snNo":"SN1",
            "photosDeliveryList":[{"imgDesc":"送货","imgUrl":"https://img/1.jpg","rowId":7,"scene":1},
                                  {"imgDesc":"安装","imgUrl":"https://img/2.jpg","rowId":"8","scene":"2"}]},
            {"orderNo":"SO.20250430.000001","photosDeliveryList":null}]}"#;
        let records: Vec<DeliveryPhotoRecord> = decode_items("y4_photos", body.as_bytes()).unwrap();
        assert_eq!(records.len(), 2);
        let r = &records[0];
        assert_eq!(r.ylh_order_code.as_deref(), Some("SO.20250430.000001.F1"));
        assert_eq!(r.sn_no.as_deref(), Some("SN1"));
        assert_eq!(r.photos_delivery_list[0].row_id.as_deref(), Some("7"));
        assert_eq!(
            r.photos_delivery_list[0].scene(),
            Some(PhotoScene::Delivery)
        );
        assert_eq!(
            r.photos_delivery_list[1].scene(),
            Some(PhotoScene::Installation)
        );
        assert!(records[1].photos_delivery_list.is_empty());
        assert!(decode_items::<DeliveryPhotoRecord>("y4_photos", b"[1]").is_err());
    }

    #[test]
    fn logistics_lenient() {
        let body = r#"[{"orderCode":"SO.1","deliveryRecordCode":"SO.1.F1",
            "logisticsList":[{"logisticsCode":"SF","logisticsName":"顺丰","expNo":123,"barCodes":null,"x":1}]},
            {"orderCode":"SO.2","logisticsList":null},{}]"#;
        let items: Vec<StoreLogistics> = decode_items("y5_logistics", body.as_bytes()).unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0].logistics_list[0].exp_no.as_deref(), Some("123"));
        assert!(items[0].logistics_list[0].bar_codes.is_empty());
        assert!(items[1].logistics_list.is_empty());
        assert_eq!(items[2], StoreLogistics::default());
    }
}
